"""Prometheus TSDB blocks: ``meta.json``, writer and reader.

``CorruptBlockError`` is raised by every reader when files fail their checks.
"""

from tidewell.tsdb.block.files import block_files
from tidewell.tsdb.block.meta import META_FILENAME, BlockMeta, read_meta, write_meta
from tidewell.tsdb.block.reader import BlockQuerier, BlockReader
from tidewell.tsdb.block.writer import DEFAULT_SAMPLES_PER_CHUNK, BlockWriter, write_block
from tidewell.tsdb.chunkenc.errors import CorruptBlockError, CorruptChunkError

__all__ = [
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
