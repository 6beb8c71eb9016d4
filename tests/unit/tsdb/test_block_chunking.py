"""Chunk cut points follow Prometheus's head (see tsdb/block/chunking.py)."""

from __future__ import annotations

import numpy as np

from tidewell.tsdb.block.chunking import chunk_bounds, compute_chunk_end, range_end

H2 = 7_200_000


def test_steady_rate_gives_equal_chunks_of_120() -> None:
    ts = np.arange(0, H2, 15_000, dtype=np.int64)  # 480 samples
    assert chunk_bounds(ts) == [(0, 120), (120, 240), (240, 360), (360, 480)]
    ts1 = np.arange(0, H2, 1_000, dtype=np.int64)
    sizes = {hi - lo for lo, hi in chunk_bounds(ts1)}
    assert sizes <= {116, 117, 118, 119, 120}


def _reference(ts: list[int], per_chunk: int = 120, chunk_range: int = H2) -> list[tuple]:
    """Sample-by-sample replay of the head's append path."""
    out, lo, next_at, n_in, c_min, c_max = [], 0, 0, 0, 0, 0
    for i, t in enumerate(ts):
        if n_in == 0:
            c_min, next_at = t, range_end(t, chunk_range)
        else:
            if n_in == per_chunk // 4:
                next_at = compute_chunk_end(c_min, c_max, next_at)
            if t >= next_at or n_in >= 2 * per_chunk:
                out.append((lo, i))
                lo, n_in, c_min, next_at = i, 0, t, range_end(t, chunk_range)
        n_in += 1
        c_max = t
    if n_in:
        out.append((lo, len(ts)))
    return out


def test_matches_sample_by_sample_replay() -> None:
    rng = np.random.default_rng(12)
    for _ in range(40):
        n = int(rng.integers(1, 2_000))
        gaps = rng.choice([1, 15_000, 60_000, 250, 7], size=n) * rng.integers(1, 4, size=n)
        ts = int(rng.integers(-(10**9), 10**9)) + np.cumsum(gaps).astype(np.int64)
        assert chunk_bounds(ts) == _reference(ts.tolist())


def test_chunks_never_cross_the_chunk_range_end() -> None:
    ts = np.arange(H2 - 10 * 15_000, H2 + 10 * 15_000, 15_000, dtype=np.int64)
    assert chunk_bounds(ts) == [(0, 10), (10, 20)]


def test_rate_increase_is_capped_at_twice_the_target() -> None:
    slow = np.arange(0, 30 * 60_000, 60_000, dtype=np.int64)
    fast = slow[-1] + np.arange(1, 2_000, dtype=np.int64) * 100
    bounds = chunk_bounds(np.concatenate([slow, fast]))
    assert bounds[0] == (0, 240)
    assert all(hi - lo <= 240 for lo, hi in bounds)
    assert bounds[-1][1] == 30 + 1_999


def test_go_integer_semantics_for_negative_times() -> None:
    assert range_end(-1, H2) == H2  # Go truncates -1/H2 to 0
    assert range_end(-H2 - 1, H2) == 0
    assert compute_chunk_end(0, 30, 100) == 100  # n <= 1 keeps the range end
    assert compute_chunk_end(0, 29, 7200) == 0 + 7200 // 60
    ts = np.arange(-5 * 15_000, 5 * 15_000, 15_000, dtype=np.int64)
    assert chunk_bounds(ts) == [(0, 10)]


def test_single_and_empty() -> None:
    assert chunk_bounds(np.array([5], dtype=np.int64)) == [(0, 1)]
    assert chunk_bounds(np.empty(0, dtype=np.int64)) == []
