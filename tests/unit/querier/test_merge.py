"""Merging replicas and sources: union of samples, duplicates dropped, first source wins."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tidewell.model import Labels, Matcher, Series
from tidewell.model.merge import merge_series
from tidewell.querier.merge import MergeQueryable

A = Labels({"__name__": "m", "z": "a"}.items())
B = Labels({"__name__": "m", "z": "b"}.items())


def series(labels: Labels, ts: list[int], vals: list[float]) -> Series:
    return Series(labels, np.array(ts, dtype=np.int64), np.array(vals, dtype=np.float64))


class ListQuerier:
    """A fixed answer, to exercise the merge alone."""

    def __init__(self, data: list[Series]) -> None:
        self.data = data

    def select(self, matchers: Sequence[Matcher]) -> list[Series]:
        return [s for s in self.data if all(m.matches_labels(s.labels) for m in matchers)]

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({n for s in self.select(matchers) for n in s.labels.names()})

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({s.labels.get(name) for s in self.select(matchers)} - {""})


class ListQueryable:
    def __init__(self, data: list[Series]) -> None:
        self.data = data

    def querier(self, tenant: str, mint: int, maxt: int) -> ListQuerier:
        return ListQuerier(self.data)


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
