"""Decoding the chunks of many series at once: range trimming, counts, overlap handling."""

from __future__ import annotations

import numpy as np

from tidewell.tsdb.chunkenc import encode_xor
from tidewell.tsdb.chunkenc.by_series import decode_by_series, split_by_series


def _layout(chunks: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    buf = np.frombuffer(b"xx" + b"".join(chunks), np.uint8)  # not at offset 0
    ends = 2 + np.cumsum([len(c) for c in chunks])
    return buf, ends - [len(c) for c in chunks], ends


def test_trims_to_the_range_and_counts_per_series() -> None:
    t = np.arange(0, 1000, 10, dtype=np.int64)
    v = np.arange(100, dtype=np.float64)
    chunks = [encode_xor(t[:50], v[:50]), encode_xor(t[50:], v[50:]),  # series 0
              encode_xor(t + 5, -v)]  # series 2 (series 1 has no chunks)
    buf, starts, ends = _layout(chunks)
    ts, vs, counts, bad = decode_by_series(buf, np.array([0, 0, 2]), starts, ends, 3, 95, 504)
    assert bad == -1
    assert counts.tolist() == [41, 0, 41]  # 100..500 and 95..495
    ts_parts, vs_parts = split_by_series(ts, vs, counts)
    assert ts_parts[0].tolist() == list(range(100, 510, 10))
    assert vs_parts[0].tolist() == [float(x) for x in range(10, 51)]
    assert ts_parts[1].shape == (0,)
    assert ts_parts[2].tolist() == list(range(95, 500, 10))
    assert vs_parts[2].tolist() == [-float(x) for x in range(9, 50)]


def test_overlapping_chunks_are_sorted_and_the_first_copy_wins() -> None:
    a_t = np.array([10, 20, 30, 40], dtype=np.int64)
    b_t = np.array([5, 20, 35], dtype=np.int64)  # overlaps series 0's first chunk
    chunks = [encode_xor(a_t, [1.0, 2.0, 3.0, 4.0]), encode_xor(b_t, [9.0, 9.0, 9.0]),
              encode_xor(a_t, [7.0, 7.0, 7.0, 7.0])]
    buf, starts, ends = _layout(chunks)
    ts, vs, counts, bad = decode_by_series(buf, np.array([0, 0, 1]), starts, ends, 2,
                                           0, 100)
    assert bad == -1 and counts.tolist() == [7, 4]
    ts_parts, vs_parts = split_by_series(ts, vs, counts)
    assert ts_parts[0].tolist() == [5, 10, 20, 30, 35, 40]
    assert vs_parts[0].tolist() == [9.0, 1.0, 2.0, 3.0, 9.0, 4.0]  # t=20: the first chunk's
    assert ts_parts[1].tolist() == [10, 20, 30, 40]  # already increasing: untouched


def test_reports_the_first_chunk_that_does_not_decode() -> None:
    t = np.arange(0, 1200, 10, dtype=np.int64)
    chunks = [encode_xor(t, np.sin(t)), encode_xor(t, np.cos(t))]
    buf, starts, ends = _layout(chunks)
    ends = ends.copy()
    ends[1] -= 20  # truncated
    assert decode_by_series(buf, np.array([0, 1]), starts, ends, 2, 0, 10_000)[3] == 1
    starts[0] = -1  # out of bounds
    assert decode_by_series(buf, np.array([0, 1]), starts, ends, 2, 0, 10_000)[3] == 0
