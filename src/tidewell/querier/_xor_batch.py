"""Encode many XOR chunks in one compiled call (the select answer's hot loop).

``encode_xor`` costs a Python call, an allocation and a Numba dispatch per
chunk: ~60% of encoding 10k series. Here one kernel walks all chunks of one
concatenated (timestamps, values) pair, reusing chunkenc's own ``encode_into``,
so the bytes are exactly ``encode_xor``'s.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tidewell.tsdb.chunkenc import backend, encode_xor

__all__ = ["encode_chunks"]

def encode_chunks(
    ts: npt.NDArray[np.int64],
    vs: npt.NDArray[np.float64],
    starts: npt.NDArray[np.int64],
    ends: npt.NDArray[np.int64],
) -> tuple[bytes, npt.NDArray[np.int64]]:
    """Chunks of ``ts[starts[k]:ends[k]]`` back to back, and the end offset of each."""
    if backend() != "numba":
        chunks = [encode_xor(ts[s:e], vs[s:e]) for s, e in zip(starts.tolist(), ends.tolist(),
                                                                strict=True)]
        sizes = np.fromiter((len(c) for c in chunks), dtype=np.int64, count=len(chunks))
        return b"".join(chunks), np.cumsum(sizes)
    n_chunks = starts.shape[0]
    buf = np.zeros(4 * n_chunks + 20 * ts.shape[0], dtype=np.uint8)
    chunk_ends = np.empty(n_chunks, dtype=np.int64)
    from tidewell.querier._xor_batch_kernel import encode_many

    used = encode_many(np.ascontiguousarray(ts, np.int64),
                       np.ascontiguousarray(vs, np.float64).view(np.uint64),
                       starts, ends, buf, chunk_ends)
    return buf[:used].tobytes(), chunk_ends
