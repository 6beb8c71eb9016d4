"""Decode the XOR chunks of many series at once and cut the samples per series.

Readers (the head, local blocks, the store-gateway) gather the chunks of every
selected series into one buffer, ordered by series and then by time, and call
``decode_by_series``: one compiled call decodes them all, one mask trims the
samples outside the query range, and ``split_by_series`` cuts the flat arrays
per series, sorting (first copy wins) only those whose chunks overlap. No
Python loop runs per chunk or per sample.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

from tidewell.tsdb.chunkenc.xor import decode_xor_many

__all__ = ["chunk_sample_counts", "decode_by_series", "split_by_series"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def chunk_sample_counts(buf: npt.NDArray[np.uint8], starts: I64) -> I64:
    """Samples in each chunk starting at ``starts`` (its 2-byte header), nothing decoded."""
    return (buf[starts].astype(np.int64) << 8) | buf[starts + 1].astype(np.int64)


def decode_by_series(
    buf: npt.NDArray[np.uint8], owner: I64, starts: I64, ends: I64, nseries: int,
    mint: int, maxt: int,
) -> tuple[I64, F64, I64, int]:
    """Chunks ``buf[starts[k]:ends[k]]`` of series ``owner[k]`` (ascending) decoded.

    Returns (timestamps, values, samples per series, -1) holding only samples in
    ``[mint, maxt]``, or (.., .., .., k) with k the first chunk that does not decode.
    """
    ts, vs, bad = decode_xor_many(buf, starts, ends)
    counts = np.zeros(nseries, dtype=np.int64)
    if bad >= 0:
        return ts, vs, counts, bad
    per_chunk = chunk_sample_counts(buf, starts)
    kept = _trim(ts, vs.view(np.uint64), owner, per_chunk, mint, maxt, counts)
    return ts[:kept], vs[:kept], counts, -1


@njit(cache=True, nogil=True)
def _trim(ts, vbits, owner, per_chunk, mint, maxt, counts):  # type: ignore[no-untyped-def]
    """Keep samples in ``[mint, maxt]`` (compacted in place), counted per owner."""
    w = 0
    r = 0
    for k in range(owner.shape[0]):
        o = owner[k]
        for _ in range(per_chunk[k]):
            t = ts[r]
            if mint <= t <= maxt:
                ts[w] = t
                vbits[w] = vbits[r]
                counts[o] += 1
                w += 1
            r += 1
    return w


def _sort_dedup(ts: I64, vs: F64) -> tuple[I64, F64]:
    """Sort by time, keeping the first sample of each timestamp."""
    order = np.argsort(ts, kind="stable")
    ts, vs = ts[order], vs[order]
    keep = np.ones(ts.shape[0], dtype=bool)
    keep[1:] = ts[1:] != ts[:-1]
    return ts[keep], vs[keep]


def split_by_series(ts: I64, vs: F64, counts: I64) -> tuple[list[I64], list[F64]]:
    """Flat per-series runs (``counts`` long each) as one array pair per series.

    Runs that are not strictly increasing (overlapping chunks, out-of-order
    data) are sorted, and of samples with equal timestamps the first is kept.
    """
    cuts = np.cumsum(counts)[:-1]
    ts_parts = np.split(ts, cuts)
    vs_parts = np.split(vs, cuts)
    if ts.shape[0] > 1:
        owner = np.repeat(np.arange(counts.shape[0]), counts)
        odd = (ts[1:] <= ts[:-1]) & (owner[1:] == owner[:-1])
        if bool(odd.any()):
            for i in np.unique(owner[1:][odd]).tolist():
                ts_parts[i], vs_parts[i] = _sort_dedup(ts_parts[i], vs_parts[i])
    return ts_parts, vs_parts
