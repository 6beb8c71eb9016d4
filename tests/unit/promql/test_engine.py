"""Engine behaviour beyond the conformance scripts: limits, cancellation, result shapes."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
import pytest

from tidewell.model import Labels, Matcher, Series, stale_nan
from tidewell.promql import (
    Engine,
    EngineOptions,
    ExecutionError,
    QueryCanceledError,
    QueryTimeoutError,
    TooManySamplesError,
)


class Store:
    def __init__(self) -> None:
        self.data: dict[Labels, tuple[np.ndarray, np.ndarray]] = {}

    def add(self, name: str, n: int, step_ms: int = 15_000, **labels: str) -> None:
        lb = Labels([("__name__", name), *labels.items()])
        ts = np.arange(n, dtype=np.int64) * step_ms
        self.data[lb] = (ts, np.arange(n, dtype=np.float64))

    def querier(self, tenant: str, mint: int, maxt: int) -> Store:
        return self

    def select(self, matchers: Sequence[Matcher], hints: object = None) -> list[Series]:
        return [Series(lb, ts, vs) for lb, (ts, vs) in sorted(self.data.items())
                if all(m.matches_labels(lb) for m in matchers)]

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return []

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        return []


@pytest.fixture
def store() -> Store:
    s = Store()
    for i in range(20):
        s.add("m_total", 400, job=f"j{i % 2}", instance=str(i))
    return s


def test_range_query_vectorised_result(store: Store) -> None:
    res = Engine().range_query(store, "t", "sum by (job) (rate(m_total[1m]))", 60_000,
                               600_000, 60_000)
    assert res.kind == "matrix"
    assert [s.labels for s in res.series] == [Labels([("job", "j0")]), Labels([("job", "j1")])]
    np.testing.assert_allclose(res.series[0].vals, 10 / 15)
    assert res.series[0].ts.tolist() == list(range(60_000, 600_001, 60_000))


def test_staleness_marker_ends_series() -> None:
    s = Store()
    s.data[Labels([("__name__", "g")])] = (np.array([0, 15_000, 30_000], dtype=np.int64),
                                           np.array([1.0, 2.0, stale_nan()]))
    eng = Engine()
    assert eng.instant_query(s, "t", "g", 20_000).series[0].vals[0] == 2.0
    assert eng.instant_query(s, "t", "g", 40_000).series == []


def test_max_samples(store: Store) -> None:
    eng = Engine(EngineOptions(max_samples=100))
    with pytest.raises(TooManySamplesError, match="too many samples"):
        eng.range_query(store, "t", "m_total", 0, 600_000, 15_000)


def test_max_fetched_series(store: Store) -> None:
    eng = Engine(EngineOptions(max_fetched_series=5))
    with pytest.raises(ExecutionError, match="max-fetched-series-per-query"):
        eng.instant_query(store, "t", "m_total", 0)


def test_timeout_and_cancel(store: Store) -> None:
    with pytest.raises(QueryTimeoutError, match="query timed out"):
        Engine(EngineOptions(timeout_s=0)).instant_query(store, "t", "m_total", 0)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(QueryCanceledError):
        Engine().instant_query(store, "t", "m_total", 0, cancel=cancel)


def test_collision_after_name_drop() -> None:
    s = Store()
    s.add("a", 10, job="x")
    s.add("b", 10, job="x")
    with pytest.raises(ExecutionError, match="same labelset"):
        Engine().instant_query(s, "t", '-{job="x"}', 60_000)


def test_range_query_rejects_range_vector(store: Store) -> None:
    with pytest.raises(ExecutionError, match="invalid expression type"):
        Engine().range_query(store, "t", "m_total[5m]", 0, 60_000, 15_000)


def test_annotation_has_position(store: Store) -> None:
    res = Engine().instant_query(store, "t", "quantile(2, m_total)", 60_000)
    assert res.warnings == ["PromQL warning: quantile value should be between 0 and 1, got 2 "
                            "(1:10)"]


def test_format_floats_matches_go_formatting() -> None:
    from tidewell.promql.format import format_float, format_floats

    rng = np.random.default_rng(0)
    special = [1.0, 0.1, 1e-7, 1e21, np.nan, -np.inf, -0.0, 2.5e-5, 1e15, 1e16, 9.99e-5]
    values = np.concatenate([special, rng.random(500) * 10.0 ** rng.integers(-8, 20, 500)])
    assert format_floats(values) == [format_float(v) for v in values]
    assert format_float(1e21) == "1000000000000000000000"
    ints = rng.integers(-1000, 1000, 50).astype(float)
    assert format_floats(ints) == [str(int(v)) for v in ints]


def test_warm_up_loads_every_kernel() -> None:
    from tidewell.promql.kernels import KERNELS

    Engine().warm_up(background=False)
    assert all(kernel.signatures for kernel, _ in KERNELS.values())


def test_utf8_names_select_group_and_relabel() -> None:
    s = Store()
    s.data[Labels([("__name__", "http.server.duration"), ("le", "0.1"), ("service.name", "a")])] \
        = (np.array([0], dtype=np.int64), np.array([3.0]))
    s.data[Labels([("__name__", "http.server.duration"), ("le", "1"), ("service.name", "b")])] \
        = (np.array([0], dtype=np.int64), np.array([4.0]))
    eng = Engine()
    res = eng.instant_query(s, "t", '{"http.server.duration", "le"="0.1"}', 0)
    assert [str(x.labels) for x in res.series] == [
        '{"http.server.duration", le="0.1", "service.name"="a"}']
    res = eng.instant_query(s, "t", 'sum by ("service.name") ({"http.server.duration"})', 0)
    assert [(x.labels, x.vals[0]) for x in res.series] == [
        (Labels([("service.name", "a")]), 3.0), (Labels([("service.name", "b")]), 4.0)]
    q = 'label_replace({"http.server.duration"}, "a.b", "x-$1", "service.name", "(.*)")'
    res = eng.instant_query(s, "t", q, 0)
    assert sorted(x.labels.get("a.b") for x in res.series) == ["x-a", "x-b"]
    q = 'label_join({"http.server.duration"}, "dst.name", "/", "le", "service.name")'
    res = eng.instant_query(s, "t", q, 0)
    assert sorted(x.labels.get("dst.name") for x in res.series) == ["0.1/a", "1/b"]
    for q, msg in (
        ('label_replace({"http.server.duration"}, "", "x", "le", ".*")',
         "invalid destination label name in label_replace(): "),
        ('label_join({"http.server.duration"}, "\\xff", ",", "le")',
         "invalid destination label name in label_join(): "),
        ('label_join({"http.server.duration"}, "\\xff", ",", "")',
         "invalid source label name in label_join(): "),
    ):
        with pytest.raises(ExecutionError) as exc:
            eng.instant_query(s, "t", q, 0)
        assert str(exc.value).startswith(msg)
