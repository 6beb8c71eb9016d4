"""The Numba kernel of ``_xor_batch`` (imported only when chunkenc uses Numba)."""

from __future__ import annotations

import numba
import numpy as np

from tidewell.tsdb.chunkenc._xor_kernels import CACHE_ENABLED, encode_into


@numba.njit(cache=CACHE_ENABLED, nogil=True)
def encode_many(
    ts: np.ndarray, vbits: np.ndarray, starts: np.ndarray, ends: np.ndarray,
    buf: np.ndarray, chunk_ends: np.ndarray,
) -> int:
    """Encode chunk k from ``[starts[k], ends[k])`` into zeroed ``buf``; returns bytes used."""
    pos = 0
    for c in range(starts.shape[0]):
        s, e = starts[c], ends[c]
        pos += encode_into(ts[s:e], vbits[s:e], buf[pos:])
        chunk_ends[c] = pos
    return pos
