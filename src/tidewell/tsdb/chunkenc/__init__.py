"""Chunk encodings: XOR float chunks exactly as Prometheus stores them.

Public surface: ``encode_xor`` / ``decode_xor`` for one chunk,
``encode_xor_many`` / ``decode_xor_many`` for many chunks of one buffer, and ``CorruptChunkError``
(a ``CorruptBlockError``) for data that does not decode.
"""

from tidewell.tsdb.chunkenc.errors import CorruptBlockError, CorruptChunkError
from tidewell.tsdb.chunkenc.xor import (
    ENCODING_XOR,
    MAX_SAMPLES_PER_CHUNK,
    append_open_kernel,
    backend,
    chunk_num_samples,
    decode_xor,
    decode_xor_many,
    encode_xor,
    encode_xor_many,
)

__all__ = [
    "ENCODING_XOR",
    "MAX_SAMPLES_PER_CHUNK",
    "CorruptBlockError",
    "CorruptChunkError",
    "append_open_kernel",
    "backend",
    "chunk_num_samples",
    "decode_xor",
    "decode_xor_many",
    "encode_xor",
    "encode_xor_many",
]
