"""Pins the public names of the block-format packages."""

from __future__ import annotations

import tidewell.tsdb.block as block
import tidewell.tsdb.chunkenc as chunkenc
import tidewell.tsdb.chunks as chunks
import tidewell.tsdb.index as index


def test_exported_members() -> None:
    assert sorted(chunkenc.__all__) == sorted(
        [
            "ENCODING_XOR",
            "MAX_SAMPLES_PER_CHUNK",
            "CorruptBlockError",
            "CorruptChunkError",
            "backend",
            "chunk_num_samples",
            "decode_xor",
            "decode_xor_many",
            "encode_xor",
        ]
    )
    assert sorted(chunks.__all__) == sorted(
        [
            "CHUNKS_MAGIC",
            "SEGMENT_HEADER_SIZE",
            "SEGMENT_MAX_SIZE",
            "ChunkReader",
            "ChunkWriter",
            "chunk_ref",
            "unpack_chunk_ref",
        ]
    )
    assert sorted(index.__all__) == sorted(
        [
            "ChunkMeta",
            "IndexReader",
            "SeriesChunks",
            "SeriesEntry",
            "build_index",
            "postings_for_matchers",
            "write_index",
        ]
    )
    assert sorted(block.__all__) == sorted(
        [
            "DEFAULT_SAMPLES_PER_CHUNK",
            "META_FILENAME",
            "BlockMeta",
            "BlockQuerier",
            "BlockReader",
            "BlockWriter",
            "CorruptBlockError",
            "CorruptChunkError",
            "block_files",
            "read_meta",
            "write_block",
            "write_meta",
        ]
    )
    for mod in (chunkenc, chunks, index, block):
        for name in mod.__all__:
            assert hasattr(mod, name), f"{mod.__name__}.{name}"
