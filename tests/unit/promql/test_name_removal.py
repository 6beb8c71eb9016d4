"""Delayed ``__name__`` removal is an option, off by default as in Prometheus and Mimir."""

from __future__ import annotations

import numpy as np
import pytest

from tidewell.model import Labels, Series
from tidewell.promql import Engine, EngineOptions, ExecutionError
from tidewell.promql.evaluator import drop_names_now
from tidewell.promql.values import Block


class Store:
    """Two counters with the same labels besides their names, and a gauge."""

    def __init__(self) -> None:
        ts = np.arange(0, 600_001, 15_000, dtype=np.int64)
        self.series = [Series(Labels([("__name__", n), ("job", "a")]), ts,
                              np.arange(len(ts), dtype=np.float64) * k)
                       for n, k in (("a_total", 1.0), ("b_total", 2.0), ("c", 3.0))]

    def querier(self, tenant: str, mint: int, maxt: int) -> Store:
        return self

    def select(self, matchers, hints=None):  # type: ignore[no-untyped-def]
        return [s for s in self.series if all(m.matches_labels(s.labels) for m in matchers)]


Q = 'sum(rate({__name__=~".+_total"}[1m]))'


def test_off_by_default_collisions_fail_as_in_prometheus() -> None:
    assert EngineOptions().delayed_name_removal is False
    with pytest.raises(ExecutionError, match="vector cannot contain metrics with the same "
                                             "labelset"):
        Engine().instant_query(Store(), "t", Q, 600_000)
    with pytest.raises(ExecutionError, match="same labelset"):
        Engine().range_query(Store(), "t", Q, 300_000, 600_000, 60_000)


def test_on_the_names_drop_after_the_aggregation() -> None:
    res = Engine(EngineOptions(delayed_name_removal=True)).instant_query(Store(), "t", Q,
                                                                         600_000)
    assert [s.labels for s in res.series] == [Labels()]
    assert res.series[0].vals[0] == pytest.approx(1 / 15 + 2 / 15)


def test_off_names_are_gone_before_the_next_node() -> None:
    # label_replace copies __name__ after abs() dropped it: nothing left to copy when off.
    q = 'label_replace(abs(c), "was", "$1", "__name__", "(.*)")'
    off = Engine().instant_query(Store(), "t", q, 600_000)
    on = Engine(EngineOptions(delayed_name_removal=True)).instant_query(Store(), "t", q,
                                                                        600_000)
    assert off.series[0].labels == Labels([("job", "a")])
    assert on.series[0].labels == Labels([("job", "a"), ("was", "c")])


def test_rows_made_identical_but_disjoint_in_time_become_one() -> None:
    t = 3
    b = Block([Labels([("__name__", "x"), ("a", "1")]), Labels([("__name__", "y"), ("a", "1")])],
              np.array([[1.0, 0, 0], [0, 2.0, 3.0]]),
              np.array([[True, False, False], [False, True, True]]), [True, True])
    out = drop_names_now(b, whole_range=False)
    assert out.labels == [Labels([("a", "1")])]
    assert out.values[0].tolist() == [1.0, 2.0, 3.0] and out.present.all()
    assert b.present.sum() == t  # the input is left as it was
    with pytest.raises(ExecutionError, match="same labelset"):
        drop_names_now(b, whole_range=True)  # a range function: any two points collide
