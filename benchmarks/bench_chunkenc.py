"""Throughput of XOR chunk encode/decode: numba kernels vs pure Python.

Run: ``python benchmarks/bench_chunkenc.py`` (the numba compile happens once,
before timing; the cache makes later runs start fast).
"""

from __future__ import annotations

import time

import numpy as np

from tidewell.tsdb.chunkenc import backend, decode_xor, decode_xor_many, encode_xor, xor_python

CHUNK = 120
TOTAL = 1_000_000


def _data(n_chunks: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    ts = 1_700_000_000_000 + np.arange(n_chunks * CHUNK, dtype=np.int64) * 15_000
    ts += rng.integers(-3, 4, ts.shape[0])  # scrape jitter
    counters = np.cumsum(rng.integers(0, 50, ts.shape[0])).astype(np.float64)
    return ts, counters


def main() -> None:
    n_chunks = TOTAL // CHUNK
    ts, vs = _data(n_chunks)
    assert backend() == "numba"
    encode_xor(ts[:CHUNK], vs[:CHUNK])
    decode_xor(encode_xor(ts[:CHUNK], vs[:CHUNK]))

    t0 = time.perf_counter()
    chunks = [
        encode_xor(ts[k * CHUNK : (k + 1) * CHUNK], vs[k * CHUNK : (k + 1) * CHUNK])
        for k in range(n_chunks)
    ]
    enc = time.perf_counter() - t0
    t0 = time.perf_counter()
    for c in chunks:
        decode_xor(c)
    dec = time.perf_counter() - t0
    buf = b"".join(chunks)
    lens = np.array([len(c) for c in chunks], dtype=np.int64)
    ends = np.cumsum(lens)
    starts = ends - lens
    t0 = time.perf_counter()
    t_all, _v_all, bad = decode_xor_many(buf, starts, ends)
    many = time.perf_counter() - t0
    assert bad == -1 and np.array_equal(t_all, ts[: n_chunks * CHUNK])
    n = n_chunks * CHUNK
    print(f"numba: {n} samples in {n_chunks} chunks of {CHUNK}, {len(buf) / n:.3f} bytes/sample")
    print(f"  encode_xor      {n / enc / 1e6:6.2f} M samples/s")
    print(f"  decode_xor      {n / dec / 1e6:6.2f} M samples/s")
    print(f"  decode_xor_many {n / many / 1e6:6.2f} M samples/s")

    sub = 200  # pure Python is slow: time a subset
    tl = [ts[k * CHUNK : (k + 1) * CHUNK].tolist() for k in range(sub)]
    vl = [vs[k * CHUNK : (k + 1) * CHUNK].view(np.uint64).tolist() for k in range(sub)]
    t0 = time.perf_counter()
    pchunks = [xor_python.encode(a, b) for a, b in zip(tl, vl, strict=True)]
    penc = time.perf_counter() - t0
    t0 = time.perf_counter()
    for c in pchunks:
        xor_python.decode(c)
    pdec = time.perf_counter() - t0
    assert pchunks == chunks[:sub]
    print(f"python: {sub * CHUNK} samples")
    print(f"  encode {sub * CHUNK / penc / 1e6:6.3f} M samples/s")
    print(f"  decode {sub * CHUNK / pdec / 1e6:6.3f} M samples/s")


if __name__ == "__main__":
    main()
