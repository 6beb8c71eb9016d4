"""Cutting a head's ranges into blocks: range maths, chunk reuse, truncation, out-of-order."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from tests.support.ingester import make_batch as batch
from tidewell.model import Labels
from tidewell.tsdb.block import BlockReader, BlockWriter
from tidewell.tsdb.head import Head, HeadQuerier
from tidewell.tsdb.head.compact import (
    block_series,
    compactable_range,
    cut_ranges,
    is_compactable,
    occupied_ranges,
    ooo_ranges,
)
from tidewell.tsdb.head.head import INT64_MAX, INT64_MIN

R = 10_000  # 10s blocks


def lbl(**kv: str) -> Labels:
    return Labels.from_dict(kv)


def fill(head: Head, series: list[Labels], times: range, **kw: int) -> None:
    for t in times:
        res = head.append(batch([(s, t, float(t * 7 + i)) for i, s in enumerate(series)]), **kw)
        assert res.rejected_total == 0, res.first_error


def samples(series_list: list) -> dict[Labels, list[tuple[int, float]]]:
    return {
        s.labels: list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
        for s in series_list
    }


def head_dump(head: Head, mint: int, maxt: int) -> dict[Labels, list[tuple[int, float]]]:
    return samples(HeadQuerier(head, mint, maxt).select([]))


def write(head: Head, parent: Path, lo: int, hi: int) -> Path:
    w = BlockWriter(parent, min_time=lo, max_time=hi)
    for labels, chunks in block_series(head, lo, hi):
        w.add_series_chunks(labels, chunks)
    w.finish()
    return w.path


def test_compactable_rule_is_prometheus_one_and_a_half_ranges() -> None:
    assert not is_compactable(INT64_MAX, INT64_MIN, R)  # empty head
    assert not is_compactable(0, 15_000, R)  # exactly 1.5 ranges: not yet
    assert is_compactable(0, 15_001, R)
    assert is_compactable(-5_000, 10_001, R)


def test_range_is_aligned_and_only_finished(tmp_path: Path) -> None:
    head = Head(R)
    a = lbl(__name__="up")
    fill(head, [a], range(3_000, 18_001, 1_000))  # spans 15s: not compactable
    assert compactable_range(head) is None
    fill(head, [a], range(19_000, 19_001))  # 16s span > 15s
    assert compactable_range(head) == (0, R)  # aligned down from the first sample
    head.truncate(R)
    assert compactable_range(head) is None  # 10s..19s: in-order range still open
    fill(head, [a], range(20_000, 26_001, 1_000))
    assert compactable_range(head) == (R, 2 * R)
    # Negative times align down too (floor, not truncation toward zero).
    neg = Head(R)
    fill(neg, [a], range(-15_000, 2_001, 1_000))
    assert compactable_range(neg) == (-2 * R, -R)


def test_block_equals_head_for_the_range_and_reuses_chunks(tmp_path: Path) -> None:
    head = Head(R)
    rng = random.Random(1)
    series = [lbl(__name__="m", i=str(i)) for i in range(30)]
    # 100 ms scrapes: 100 samples per series per block range, chunks cut at 120 or
    # at the range boundary; some series have gaps.
    for t in range(0, 35_000, 100):
        live = [s for s in series if rng.random() > 0.1]
        head.append(batch([(s, t, rng.random()) for s in live]))
    head.cut_chunks()
    want = head_dump(head, 0, R - 1)
    # Reused chunks are the very objects the head holds.
    reused = 0
    for labels, chunks in block_series(head, 0, R):
        ref = head.get_ref(labels)
        held = {id(c[2]) for c in head.chunks[ref] or ()}
        reused += sum(id(c[2]) in held for c in chunks)
        assert all(0 <= c[0] <= c[1] < R for c in chunks)
    assert reused > 0
    path = write(head, tmp_path, 0, R)
    with BlockReader(path) as b:
        assert b.meta.min_time == 0 and b.meta.max_time == R
        got = samples(b.querier(0, R).select([]))
        assert b.meta.num_samples == sum(len(v) for v in want.values())
    assert got == want
    # Truncation drops exactly the range; the rest stays queryable.
    after_before = head_dump(head, R, 10**9)
    removed = head.truncate(R)
    assert removed == 0
    assert head_dump(head, 0, R - 1) == {}
    assert head_dump(head, R, 10**9) == after_before
    assert head.min_valid_time == R


def test_open_samples_are_encoded_and_gone_series_removed(tmp_path: Path) -> None:
    head = Head(R)
    a, b = lbl(__name__="a"), lbl(__name__="b")
    fill(head, [a, b], range(0, 9_000, 1_000))  # few samples: all still staged
    fill(head, [a], range(9_000, 30_000, 1_000))
    path = write(head, tmp_path, 0, R)
    with BlockReader(path) as blk:
        got = samples(blk.querier(0, R).select([]))
    assert got == head_dump(head, 0, R - 1)
    assert len(got[b]) == 9
    assert head.truncate(R) == 1  # b had nothing after 10s
    assert head.get_ref(b) is None
    assert head.active_series == 1


def test_truncate_splits_out_of_order_chunk_straddling_the_cut() -> None:
    head = Head(R)
    a = lbl(__name__="a")
    fill(head, [a], range(0, 40_000, 1_000), ooo_window_ms=60_000)
    head.cut_chunks(everything=True)
    # Out-of-order samples in both ranges land in one chunk that crosses 10s.
    ooo = [(a, t, -1.0) for t in (5_500, 8_500, 11_500, 14_500)]
    assert head.append(batch(ooo), ooo_window_ms=60_000).rejected_total == 0
    head.cut_chunks(everything=True)
    ref = head.get_ref(a)
    assert any(c[0] < R <= c[1] for c in head.chunks[ref])
    before = head_dump(head, R, 10**9)
    head.truncate(R)
    assert head_dump(head, 0, R - 1) == {}
    assert head_dump(head, R, 10**9) == before
    assert all(c[0] >= R for c in head.chunks[ref])


def test_out_of_order_data_below_the_cut_gets_its_own_ranges(tmp_path: Path) -> None:
    head = Head(R)
    a = lbl(__name__="a")
    fill(head, [a], range(0, 40_000, 1_000), ooo_window_ms=60_000)
    head.truncate(2 * R)
    assert ooo_ranges(head) == []
    late = [(a, 3_500, 1.5), (a, 12_500, 2.5), (a, 13_500, 3.5)]
    assert head.append(batch(late), ooo_window_ms=60_000).rejected_total == 0
    assert ooo_ranges(head) == [(0, R), (R, 2 * R)]
    path = write(head, tmp_path, R, 2 * R)
    with BlockReader(path) as blk:
        got = samples(blk.querier(0, 10**9).select([]))
    assert got == {a: [(12_500, 2.5), (13_500, 3.5)]}


def test_overlapping_out_of_order_chunks_are_merged_into_sorted_chunks(tmp_path: Path) -> None:
    head = Head(R)
    a = lbl(__name__="a")
    fill(head, [a], range(0, 9_000, 500), ooo_window_ms=60_000)
    head.cut_chunks(everything=True)
    late = [(a, t + 250, 0.5) for t in range(0, 9_000, 1_000)]
    assert head.append(batch(late), ooo_window_ms=60_000).rejected_total == 0
    fill(head, [a], range(9_000, 30_000, 1_000), ooo_window_ms=60_000)
    (_labels, chunks), = list(block_series(head, 0, R))
    starts = [c[0] for c in chunks]
    assert starts == sorted(starts)
    assert all(prev[1] < cur[0] for prev, cur in itertools.pairwise(chunks))
    path = write(head, tmp_path, 0, R)
    with BlockReader(path) as blk:
        assert samples(blk.querier(0, R).select([])) == head_dump(head, 0, R - 1)


@pytest.mark.parametrize("seed", [3, 4])
def test_random_ranges_round_trip(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    head = Head(R)
    series = [lbl(__name__="r", i=str(i)) for i in range(5)]
    t = 0
    while t < 50_000:
        head.append(batch([(s, t, rng.random()) for s in series if rng.random() > 0.3]))
        t += rng.randint(50, 700)
        if rng.random() < 0.05:
            head.cut_chunks()
    total = head_dump(head, 0, 10**9)
    got: dict[Labels, list] = {}
    while (r := compactable_range(head)) is not None:
        lo, hi = r
        path = write(head, tmp_path, lo, hi)
        with BlockReader(path) as blk:
            for ls, vals in samples(blk.querier(lo, hi).select([])).items():
                got.setdefault(ls, []).extend(vals)
        head.truncate(hi)
    for ls, vals in head_dump(head, 0, 10**9).items():
        got.setdefault(ls, []).extend(vals)
    assert got == total


def test_a_lone_old_sample_does_not_walk_empty_ranges(tmp_path: Path) -> None:
    """Ranges come from where samples are: one sample at t=0 and the rest near 1.7e12."""
    head = Head(R)
    a, b = lbl(__name__="a"), lbl(__name__="b")
    assert head.append(batch([(a, 0, 1.0)])).rejected_total == 0
    base = 1_700_000_000_000
    fill(head, [b], range(base, base + 40_000, 1_000))
    ooo, inorder = cut_ranges(head)
    assert ooo == []
    assert inorder == [(0, R), (base, base + R), (base + R, base + 2 * R),
                       (base + 2 * R, base + 3 * R)]
    assert list(occupied_ranges(head)) == [0, base // R, base // R + 1, base // R + 2,
                                           base // R + 3]
    head.truncate(R)
    assert head.min_time == base  # the oldest sample left, as Prometheus's head
    assert compactable_range(head) == (base, base + R)
    forced = cut_ranges(head, force=True)[1]
    assert forced[-1] == (base + 3 * R, base + 4 * R)
