"""The block index (format v2): writer and lazy mmap reader."""

from tidewell.tsdb.index.postings import postings_for_matchers
from tidewell.tsdb.index.reader import IndexReader, SeriesChunks
from tidewell.tsdb.index.writer import ChunkMeta, SeriesEntry, build_index, write_index

__all__ = [
    "ChunkMeta",
    "IndexReader",
    "SeriesChunks",
    "SeriesEntry",
    "build_index",
    "postings_for_matchers",
    "write_index",
]
