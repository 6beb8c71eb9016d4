"""The head's chunk encoding: Prometheus's XOR chunks, 120 samples each.

Head chunks use the very bytes blocks store (``tidewell.tsdb.chunkenc``,
numba-compiled), so cutting a block copies chunks instead of re-encoding.
Measured against a NumPy alternative (delta-of-delta and XOR transforms,
byte shuffle, zstd) on 120-sample chunks: XOR encodes in 6 to 11 µs and
decodes in 4 to 10 µs (the alternative: 27 to 51 µs and 35 to 54 µs), at
1.9 B/sample on exact-interval counters (2.1), 3.7 on jittered counters
(3.5); only noisy gauges favoured the alternative (9.5 vs 5.4 B/sample).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tidewell.tsdb.chunkenc import chunk_num_samples, decode_xor, encode_xor

__all__ = ["MAX_CHUNK_SAMPLES", "chunk_samples", "decode_chunk", "encode_chunk"]

MAX_CHUNK_SAMPLES = 120
"""Samples per cut chunk, as Prometheus targets."""


def encode_chunk(ts: npt.NDArray[np.int64], vals: npt.NDArray[np.float64]) -> bytes:
    """Encode sorted samples (at most 120) into one XOR chunk."""
    return encode_xor(ts, vals)


def decode_chunk(data: bytes) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Decode a chunk back into (timestamps, values)."""
    return decode_xor(data)


def chunk_samples(data: bytes) -> int:
    """Sample count from the header, without decoding."""
    return chunk_num_samples(data)
