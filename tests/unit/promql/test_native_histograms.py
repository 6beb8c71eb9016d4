"""Native histograms through the engine: arithmetic, functions, aggregations, annotations.

Expected values are worked out by hand from Prometheus's definitions (bucket
bounds 2^(i*2^-schema), linear/exponential interpolation, extrapolated rate).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.conformance.memstore import MemStore
from tidewell.model import CounterResetHint, Histogram, Labels
from tidewell.promql import nhist
from tidewell.promql.engine import Engine
from tidewell.promql.evaluator import Evaluator
from tidewell.promql.nhist import FH
from tidewell.promql.parser import parse


def _h(count: float, sum_: float, buckets: tuple[float, ...], schema: int = 0,
       offset: int = 0) -> Histogram:
    return Histogram(schema=schema, count=count, sum=sum_,
                     positive_spans=((offset, len(buckets)),), positive_buckets=buckets)


@pytest.fixture
def store() -> MemStore:
    s = MemStore()
    # A counter histogram scraped every 15s: +4 observations per scrape, reset at 60s.
    counts = [4, 8, 12, 16, 4, 8]
    s.add_histograms(Labels.from_dict({"__name__": "req_seconds", "job": "a"}),
                     [i * 15_000 for i in range(6)],
                     [_h(c, c * 1.5, (c / 4, c / 2, c / 4)) for c in counts])
    s.add_histograms(Labels.from_dict({"__name__": "req_seconds", "job": "b"}),
                     [i * 15_000 for i in range(6)],
                     [_h(2, 3, (1, 1)) for _ in range(6)])
    s.add(Labels.from_dict({"__name__": "req_seconds", "job": "c"}),
          [i * 15_000 for i in range(6)], [1.0] * 6)
    return s


def _query(store: MemStore, q: str, t: int = 75_000):
    return Engine().instant_query(store, "t", q, t)


def test_add_reduces_schema_and_merges_zero_buckets() -> None:
    a = FH(schema=1, count=3, sum=3, pos={1: 1, 2: 2})  # (1, 1.41], (1.41, 2]
    b = FH(schema=0, zero_threshold=0.5, zero_count=1, count=2, sum=1, pos={1: 1})
    r = nhist.add(a, b).h
    assert r.schema == 0 and r.zero_threshold == 0.5
    assert r.pos == {1: 4.0} and r.zero_count == 1 and r.count == 5 and r.sum == 4


def test_detect_reset_by_bucket_and_hint() -> None:
    prev = FH(count=4, pos={0: 2, 1: 2})
    assert nhist.detect_reset(FH(count=5, pos={0: 1, 1: 4}), prev)  # a bucket went down
    assert not nhist.detect_reset(FH(count=5, pos={0: 2, 1: 3}), prev)
    hinted = FH(count=5, pos={0: 1, 1: 4}, hint=CounterResetHint.NOT_COUNTER_RESET)
    assert not nhist.detect_reset(hinted, prev)


def test_selector_returns_histograms_and_floats_side_by_side(store: MemStore) -> None:
    res = _query(store, "req_seconds")
    by_job = {s.labels.get("job"): s for s in res.series}
    assert by_job["a"].hists[0].count == 8 and len(by_job["a"].ts) == 0
    assert list(by_job["c"].vals) == [1.0] and not by_job["c"].hists


def test_float_only_blocks_carry_no_histogram_matrix(store: MemStore) -> None:
    """Float evaluation never allocates or scans the histogram object matrix."""
    from tidewell.promql.budget import QueryBudget, QueryLimits
    from tidewell.promql.engine import _Ctx

    engine = Engine()
    ctx = _Ctx(engine, store, "t", "", 0, 75_000, 15_000, QueryBudget(QueryLimits(), math.inf))
    ev = Evaluator(ctx, np.arange(0, 75_001, 15_000, dtype=np.int64), 15_000)
    floats = ev.eval(parse('req_seconds{job="c"} * 2'))
    assert floats.hist is None and floats.floats_only() is floats
    mixed = ev.eval(parse("req_seconds"))
    assert mixed.hist is not None and mixed.hist_mask().sum() == 2 * 6


def test_rate_over_reset(store: MemStore) -> None:
    # Window (15s, 75s]: samples at 30..75 with counts 12, 16, 4, 8: increase 4+(16-12)+8-4... =
    # 16-12 + 4 (reset: all of the new sample) + 8-4 = 12 over 45s, extrapolated to 60s.
    res = _query(store, 'increase(req_seconds{job="a"}[1m])')
    (s,) = res.series
    h = s.hists[0]
    assert h.count == pytest.approx(12 * 60 / 45)
    assert h.counter_reset_hint == CounterResetHint.GAUGE
    rate = _query(store, 'histogram_count(rate(req_seconds{job="a"}[1m]))').series[0]
    assert float(rate.vals[0]) == pytest.approx(12 / 45)


def test_histogram_stats_and_quantile(store: MemStore) -> None:
    res = _query(store, 'histogram_count(req_seconds{job="b"})')
    assert float(res.series[0].vals[0]) == 2
    # Buckets (0.5,1]:1 and (1,2]:1; the median ends bucket 0 -> its upper bound, 1.
    q = _query(store, 'histogram_quantile(0.5, req_seconds{job="b"})')
    assert float(q.series[0].vals[0]) == pytest.approx(1.0)
    # 0.75 lies halfway through (1,2] in log2 space: 2**0.5.
    q = _query(store, 'histogram_quantile(0.75, req_seconds{job="b"})')
    assert float(q.series[0].vals[0]) == pytest.approx(math.sqrt(2))
    f = _query(store, 'histogram_fraction(0, 1, req_seconds{job="b"})')
    assert float(f.series[0].vals[0]) == pytest.approx(0.5)


def test_sum_warns_on_mixed_floats_and_histograms(store: MemStore) -> None:
    res = _query(store, "sum(req_seconds)")
    assert res.series == []
    assert res.warnings == ["PromQL warning: encountered a mix of histograms and floats for "
                            "aggregation (1:5)"]
    res = _query(store, 'sum(req_seconds{job=~"a|b"})')
    assert res.series[0].hists[0].count == 10


def test_binary_operators(store: MemStore) -> None:
    res = _query(store, 'req_seconds{job="b"} * 3')
    assert res.series[0].hists[0].count == 6 and res.series[0].labels == Labels.from_dict(
        {"job": "b"})
    res = _query(store, 'req_seconds{job="b"} + 1')
    assert res.series == []
    assert res.infos == ['PromQL info: incompatible sample types encountered for binary '
                         'operator "+": histogram + float (1:1)']
    res = _query(store, 'req_seconds{job="b"} - on(job) req_seconds{job="b"}')
    assert res.series[0].hists[0].count == 0


def test_trim_keeps_observations_below_bound(store: MemStore) -> None:
    # (0.5,1]:1 kept whole (midpoint sqrt(0.5)), (1,2] cut at 1.5 in log2 space.
    res = _query(store, 'req_seconds{job="b"} </ 1.5')
    h = res.series[0].hists[0]
    kept = math.log2(1.5)
    assert h.count == pytest.approx(1 + kept)
    assert h.sum == pytest.approx(math.sqrt(0.5) + math.sqrt(1.5) * kept)
    assert res.series[0].labels.name == "req_seconds"


def test_sum_over_time_and_last_over_time(store: MemStore) -> None:
    res = _query(store, 'sum_over_time(req_seconds{job="b"}[1m])')
    assert res.series[0].hists[0].count == 8  # 4 samples in (15s, 75s]
    res = _query(store, 'count_over_time(req_seconds{job="b"}[1m])')
    assert float(res.series[0].vals[0]) == 4
    res = _query(store, 'max_over_time(req_seconds{job="b"}[1m])')
    assert res.series == []


def test_stats_selector_detection() -> None:
    expr = parse("histogram_count(rate(a[1m])) + histogram_quantile(0.5, b)")
    ids = nhist.stats_selectors(expr)
    names = {n.name for n in _selectors(expr) if id(n) in ids}
    assert names == {"a"}


def _selectors(expr):  # type: ignore[no-untyped-def]
    from tidewell.promql import nodes as ast

    return [n for n, _ in ast.walk(expr) if isinstance(n, ast.VectorSelector)]


def test_label_functions_and_info_keep_histograms(store: MemStore) -> None:
    store.add(Labels.from_dict({"__name__": "target_info", "job": "b", "instance": "x",
                                "team": "t"}), [i * 15_000 for i in range(6)], [1.0] * 6)
    store.add_histograms(Labels.from_dict({"__name__": "svc_seconds", "job": "b",
                                           "instance": "x"}), [60_000], [_h(2, 3, (1, 1))])
    res = _query(store, "info(svc_seconds)")
    (s,) = res.series
    assert s.labels.get("team") == "t" and s.hists[0].count == 2
    res = _query(store, 'label_replace(svc_seconds, "y", "$1", "job", "(.*)")')
    assert res.series[0].labels.get("y") == "b" and res.series[0].hists[0].sum == 3


def test_exponential_bounds_are_prometheus_table_values() -> None:
    """Bounds print as Prometheus's table, not the correctly rounded power (one ulp apart)."""
    from tidewell.promql.nhist import exp_bound

    assert exp_bound(6, 3) == 2 * 0.8408964152537144  # 2**(-1/4), Prometheus's literal
    assert exp_bound(6, 3) != 2.0 ** (6 / 8)
    assert exp_bound(1, 1) == 2 * 0.7071067811865475
    assert exp_bound(-1, 3) == 0.9170040432046711
    assert exp_bound(0, 0) == 1.0
    assert exp_bound(3, -1) == 2.0 ** 6
