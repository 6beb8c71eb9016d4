"""Range selectors read a selection's samples in place when the source hands out slices
of one array (the head does), and copy them otherwise: both give the same answers,
staleness markers dropped either way."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from tidewell.model import Labels, Matcher, Series
from tidewell.model.samples import stale_nan
from tidewell.promql.engine import Engine

N, STEPS = 6, 200


def _flat() -> tuple[np.ndarray, np.ndarray, list[int]]:
    counts = [STEPS - 7 * i for i in range(N)]
    ts = np.concatenate([np.arange(c, dtype=np.int64) * 15_000 for c in counts])
    vs = np.arange(ts.shape[0], dtype=np.float64) * 1.5
    vs[50] = stale_nan()  # series 0 goes stale for one sample
    return ts, vs, counts


class _Source:
    def __init__(self, views: bool) -> None:
        ts, vs, counts = _flat()
        cuts = np.cumsum(counts)[:-1]
        tparts, vparts = np.split(ts, cuts), np.split(vs, cuts)
        if not views:
            tparts, vparts = [t.copy() for t in tparts], [v.copy() for v in vparts]
        self.series = [Series(Labels([("__name__", "m"), ("i", str(i))]), t, v)
                       for i, (t, v) in enumerate(zip(tparts, vparts, strict=True))]

    def querier(self, tenant: str, mint: int, maxt: int) -> _Source:
        return self

    def select(self, matchers: Sequence[Matcher], hints: object = None) -> list[Series]:
        return self.series


@pytest.mark.parametrize("query", ["rate(m[5m])", "count_over_time(m[3m])",
                                   "sum(max_over_time(m[10m]))"])
def test_views_and_copies_answer_alike(query: str) -> None:
    engine = Engine()
    got = [engine.range_query(_Source(views), "t", query, 300_000, 2_900_000, 60_000)
           for views in (True, False)]
    assert [s.labels for s in got[0].series] == [s.labels for s in got[1].series]
    assert got[0].series
    for a, b in zip(got[0].series, got[1].series, strict=True):
        assert np.array_equal(a.ts, b.ts) and np.array_equal(a.vals, b.vals, equal_nan=True)
    counts = engine.range_query(_Source(True), "t", "count_over_time(m[3m])", 900_000,
                                900_000, 60_000)
    assert counts.series[0].vals.tolist() == [11.0]  # 12 samples in (720 s, 900 s], one stale
