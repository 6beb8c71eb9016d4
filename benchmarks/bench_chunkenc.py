"""Throughput of XOR chunk encode/decode: the compiled kernels vs the Python reference.

Run: ``python -m benchmarks.bench_chunkenc``. The data is the query scenario's
(``benchmarks.query_data``: counters, random-walk gauges, histogram buckets, info
series; 200 series x 24 h at 15 s = 1.15M samples), cut into chunks of 120
samples (block chunks) and of 5760 (one per series, as on the internal wire).
Times are CPU seconds of this thread, best of 7, so that other processes on a
shared machine inflate them less than wall time.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.query_data import QueryDataset
from tidewell.tsdb.chunkenc import (
    backend,
    decode_xor_many,
    encode_xor_many,
    xor_python,
)

ROUNDS = 5760
START_MS = 1_700_000_000_000


def _data() -> tuple[np.ndarray, np.ndarray]:
    ds = QueryDataset(targets=4)
    ts = np.concatenate([ds.timestamps(i, START_MS, ROUNDS) for i in range(ds.series)])
    vs = np.concatenate([ds.values(i, START_MS, ROUNDS) for i in range(ds.series)])
    return ts, vs


def _best(fn, reps: int = 7) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(reps):
        t0 = time.thread_time()
        fn()
        best = min(best, time.thread_time() - t0)
    return best


def main() -> None:
    assert backend() == "numba"
    ts, vs = _data()
    n = ts.shape[0]
    for size in (120, ROUNDS):
        starts = np.arange(0, n, size, dtype=np.int64)
        ends = np.minimum(starts + size, n)
        buf, chunk_ends = encode_xor_many(ts, vs, starts, ends)
        cstarts = np.concatenate([[0], chunk_ends[:-1]]).astype(np.int64)
        got_t, got_v, bad = decode_xor_many(buf, cstarts, chunk_ends)
        assert bad == -1 and np.array_equal(got_t, ts) and np.array_equal(got_v, vs)
        enc = _best(lambda s=starts, e=ends: encode_xor_many(ts, vs, s, e))
        dec = _best(lambda b=buf, s=cstarts, e=chunk_ends: decode_xor_many(b, s, e))
        print(f"chunks of {size:4d}: {n} samples, {len(buf) / n:.2f} bytes/sample: "
              f"encode {n / enc / 1e6:6.1f} M samples/s, decode {n / dec / 1e6:6.1f} M samples/s")
    sub = 120 * 100  # the Python reference is slow: a subset
    tl, vl = ts[:sub].tolist(), vs[:sub].view(np.uint64).tolist()
    chunks: list[bytes] = []
    penc = _best(lambda: chunks.append(xor_python.encode(tl, vl)), 1)
    pdec = _best(lambda: xor_python.decode(chunks[0]), 1)
    print(f"python reference ({sub} samples in one chunk): encode {sub / penc / 1e6:.3f}, "
          f"decode {sub / pdec / 1e6:.3f} M samples/s")


if __name__ == "__main__":
    main()
