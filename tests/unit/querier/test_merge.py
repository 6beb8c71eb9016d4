"""Merging replicas and sources: union of samples, duplicates dropped, first source wins."""

from __future__ import annotations

import numpy as np

from tests.support.memory import DictQuerier
from tidewell.model import Labels, Matcher, Series
from tidewell.model.merge import merge_series
from tidewell.querier.merge import MergeQueryable

A = Labels({"__name__": "m", "z": "a"}.items())
B = Labels({"__name__": "m", "z": "b"}.items())


def series(labels: Labels, ts: list[int], vals: list[float]) -> Series:
    return Series(labels, np.array(ts, dtype=np.int64), np.array(vals, dtype=np.float64))


class ListQueryable:
    def __init__(self, data: list[Series]) -> None:
        self.data = data

    def querier(self, tenant: str, mint: int, maxt: int) -> DictQuerier:
        return DictQuerier({s.labels: (s.timestamps, s.values) for s in self.data}, mint, maxt)


def test_merge_series_unions_and_dedups() -> None:
    merged = merge_series([series(A, [1, 3, 5], [1, 3, 5]), series(A, [2, 3, 6], [2, 30, 6])])
    assert merged.timestamps.tolist() == [1, 2, 3, 5, 6]
    assert merged.values.tolist() == [1, 2, 3, 5, 6]  # first source wins at ts=3


def test_merge_queryable_merges_by_labels_and_sorts() -> None:
    q = MergeQueryable(
        [ListQueryable([series(B, [1], [1]), series(A, [1], [1])]),
         ListQueryable([series(A, [2], [2])])]
    ).querier("t", 0, 10)
    out = q.select([Matcher.equal("__name__", "m")])
    assert [s.labels for s in out] == [A, B]
    assert out[0].timestamps.tolist() == [1, 2]
    assert q.label_values("z") == ["a", "b"]
    assert q.label_names() == ["__name__", "z"]


def test_merge_series_carries_start_timestamps() -> None:
    a = series(A, [1, 3], [1, 3])
    a.start_timestamps = np.array([0, 2], dtype=np.int64)
    merged = merge_series([a, series(A, [2, 3], [2, 30])])
    assert merged.timestamps.tolist() == [1, 2, 3]
    assert merged.start_timestamps is not None
    assert merged.start_timestamps.tolist() == [0, 0, 2]


def test_disjoint_copies_concatenate_in_time_order_and_overlapping_ones_dedup() -> None:
    lb = Labels([("__name__", "m")])
    late = Series(lb, np.array([50, 60], dtype=np.int64), np.array([5.0, 6.0]))
    early = Series(lb, np.array([10, 20], dtype=np.int64), np.array([1.0, 2.0]))
    empty = Series(lb, np.empty(0, dtype=np.int64), np.empty(0))
    got = merge_series([late, empty, early])
    assert got.timestamps.tolist() == [10, 20, 50, 60] and got.values.tolist() == [1, 2, 5, 6]
    dup = Series(lb, np.array([20, 30], dtype=np.int64), np.array([9.0, 3.0]))
    got = merge_series([early, dup])
    assert got.timestamps.tolist() == [10, 20, 30] and got.values.tolist() == [1, 2, 3]
