"""Where head chunks end: Prometheus's rule, checked against a per-sample model of it.

The model below replays Prometheus's ``appendPreprocessor`` one sample at a time
(cut at the chunk range's end, an end predicted at 30 samples that splits the
rest of the range evenly, at most 240 samples, no append to a chunk over 1005
bytes). Blocks hold the head's chunks as they are, so matching this rule is
what makes our blocks the size of Prometheus's for the same samples.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from tidewell.model import Labels, SampleBatch
from tidewell.tsdb.head import Head
from tidewell.tsdb.head.chunks import chunk_samples, decode_chunk, encode_chunk
from tidewell.tsdb.head.compact import block_series

R = 7_200_000
A = Labels.from_dict({"__name__": "up", "job": "a"})


def prometheus_chunks(ts: list[int], vals: list[float], chunk_range: int) -> list[list[int]]:
    """Timestamps of each chunk, cut as Prometheus's head cuts them, sample by sample."""
    chunks: list[list[int]] = []
    cur_t: list[int] = []
    cur_v: list[float] = []
    next_at = 0
    for t, v in zip(ts, vals, strict=True):
        new = not cur_t
        if not new and len(encode_chunk(np.array(cur_t), np.array(cur_v))) > 1024 - 19:
            new = True
        if not new:
            n_samples = len(cur_t)
            if n_samples == 30:
                start, last = cur_t[0], cur_t[-1]
                n = (next_at - start) / ((last - start + 1) * 4.0)
                if n > 1:
                    next_at = int(start + (next_at - start) / math.floor(n))
            new = t >= next_at or n_samples >= 240
        if new:
            cur_t, cur_v = [], []
            chunks.append(cur_t)
            next_at = (t // chunk_range + 1) * chunk_range
        cur_t.append(t)
        cur_v.append(v)
    return chunks


def head_chunk_times(head: Head, ref: int = 0) -> list[list[int]]:
    return [decode_chunk(c[2])[0].tolist() for c in head.chunks[ref] or ()]


def append_all(head: Head, ts: np.ndarray, vals: np.ndarray, step: int) -> None:
    """Append ``step`` samples at a time, cutting chunks after every append."""
    for i in range(0, ts.shape[0], step):
        t, v = ts[i : i + step], vals[i : i + step]
        head.append(SampleBatch([A], np.zeros(t.shape[0], dtype=np.int32), t, v))
        head.cut_chunks()


def test_series_starting_mid_range_gets_even_chunks_not_a_short_remainder() -> None:
    # 15 s scrapes from 50 min into a 2h range: 280 samples left in it. Prometheus
    # predicts a 35-min chunk at 30 samples (two chunks of 140); cutting at 120
    # would leave 120 + 120 + 40. The next range is full: 120 samples a chunk.
    start = 50 * 60_000
    ts = start + np.arange(280 + 480 + 10, dtype=np.int64) * 15_000
    head = Head(R)
    append_all(head, ts, np.ones(ts.shape[0]), 1)
    assert [chunk_samples(c[2]) for c in head.chunks[0]] == [140, 140, 120, 120, 120, 120]
    assert (head.staging.count, int(head.open.count[0])) == (0, 10)  # the open chunk
    assert head.chunks[0][1][1] < R <= head.chunks[0][2][0]


def test_chunk_is_capped_at_240_samples_when_the_rate_rises() -> None:
    # 30 samples a minute apart predict one chunk for the whole range; then
    # samples arrive every second, and the chunk is cut at 240 samples.
    slow = np.arange(30, dtype=np.int64) * 60_000
    fast = slow[-1] + np.arange(1, 471, dtype=np.int64) * 1_000
    ts = np.concatenate([slow, fast])
    head = Head(R)
    append_all(head, ts, np.zeros(ts.shape[0]), 50)
    head.cut_chunks(everything=True)
    got = [chunk_samples(c[2]) for c in head.chunks[0]]
    assert got[0] == 240 and max(got[1:]) <= 130
    assert got == [len(c) for c in prometheus_chunks(ts.tolist(), [0.0] * 500, R)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_series_match_the_sample_by_sample_rule(seed: int) -> None:
    """Jittered intervals, gaps, rate changes and noisy values (size-limited chunks)."""
    rng = random.Random(seed)
    r = 3_600_000
    ts_list: list[int] = []
    t = rng.randrange(0, r)
    for _ in range(1500):
        phase = (len(ts_list) // 300) % 3
        t += [15_000, 2_000, 60_000][phase] + rng.randint(-500, 500)
        if rng.random() < 0.005:
            t += rng.randint(0, 2 * r)  # a gap
        ts_list.append(t)
    noisy = seed == 3
    vals_list = [rng.random() * 1e6 if noisy else float(i // 7) for i in range(len(ts_list))]
    ts, vals = np.array(ts_list, dtype=np.int64), np.array(vals_list)
    want = prometheus_chunks(ts_list, vals_list, r)

    head = Head(r)
    append_all(head, ts, vals, rng.randint(1, 40))
    head.cut_chunks(everything=True)
    assert head_chunk_times(head) == want
    if noisy:
        assert any(len(c) < 120 for c in want[:-1])  # the byte limit did cut some

    # A block cut from an uncut head (everything staged) gets the same chunks.
    fresh = Head(r)
    fresh.append(SampleBatch([A], np.zeros(ts.shape[0], dtype=np.int32), ts, vals))
    lo = ts_list[0] // r * r
    got = [decode_chunk(c[2])[0].tolist() for _, cs in block_series(fresh, lo, lo + r) for c in cs]
    assert got == [c for c in want if c[0] < lo + r]
