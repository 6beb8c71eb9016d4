"""Chunk segment files of a block (``chunks/000001``…), as Prometheus writes them."""

from tidewell.tsdb.chunks.segments import (
    CHUNKS_MAGIC,
    SEGMENT_HEADER_SIZE,
    SEGMENT_MAX_SIZE,
    ChunkReader,
    ChunkWriter,
    chunk_ref,
    unpack_chunk_ref,
)

__all__ = [
    "CHUNKS_MAGIC",
    "SEGMENT_HEADER_SIZE",
    "SEGMENT_MAX_SIZE",
    "ChunkReader",
    "ChunkWriter",
    "chunk_ref",
    "unpack_chunk_ref",
]
