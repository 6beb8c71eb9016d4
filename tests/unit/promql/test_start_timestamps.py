"""Start timestamps (``Series.start_timestamps``, ``HistogramSamples.start_timestamps``) in
rate/increase/irate/resets and ``start_timestamp()``; the conformance script covers the
exact numbers, these cover what it does not: mixed series, staleness markers, subqueries,
per-series warnings."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from tidewell.model import Histogram, HistogramSamples, Labels, Matcher, Series, stale_nan
from tidewell.promql import Engine
from tidewell.promql.engine import QueryResult

M = 60_000  # one minute in ms


class Store:
    """A minimal ``Queryable`` over fixed series (some with start timestamps)."""

    def __init__(self, series: list[Series]) -> None:
        self.series = sorted(series, key=lambda s: s.labels)

    def querier(self, tenant: str, mint: int, maxt: int) -> Store:
        return self

    def select(self, matchers: Sequence[Matcher], hints: object = None) -> list[Series]:
        return [s for s in self.series if all(m.matches_labels(s.labels) for m in matchers)]

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return []

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        return []


def _series(kind: str, vals: list[float], sts: list[int] | None, name: str = "c_total",
            t0: int = M) -> Series:
    ts = t0 + np.arange(len(vals), dtype=np.int64) * M
    return Series(Labels([("__name__", name), ("kind", kind)]), ts,
                  np.asarray(vals, dtype=np.float64),
                  None if sts is None else np.asarray(sts, dtype=np.int64))


def _by_kind(res: QueryResult) -> dict[str, np.ndarray]:
    return {s.labels.get("kind"): s.vals for s in res.series}


@pytest.fixture
def store() -> Store:
    # Same values; "restart" has a start time after the 3rd sample: a reset without a drop.
    vals = [10.0, 20.0, 30.0, 40.0, 50.0]
    restart_sts = [1, 1, 1, 3 * M + 30_000, 3 * M + 30_000]
    return Store([_series("plain", vals, None), _series("zeros", vals, [0] * 5),
                  _series("restart", vals, restart_sts)])


def test_st_reset_counts_without_value_drop(store: Store) -> None:
    eng = Engine()
    got = _by_kind(eng.instant_query(store, "t", "resets(c_total[10m])", 5 * M))
    assert got["restart"][0] == 1 and got["plain"][0] == 0 and got["zeros"][0] == 0
    inc = _by_kind(eng.instant_query(store, "t", "increase(c_total[3m])", 5 * M))
    # window (2m, 5m]: samples 30@3m, 40@4m (reset: ST 3m30s > 3m), 50@5m -> raw 30+30 = 60
    # (no ST inside the window for the first sample, so ordinary left extrapolation).
    assert inc["restart"][0] > inc["plain"][0]
    irate = _by_kind(eng.instant_query(store, "t", "irate(c_total[3m])", 4 * M))
    assert irate["restart"][0] == pytest.approx(40 / 60)
    assert irate["plain"][0] == pytest.approx(10 / 60)


def test_series_without_sts_match_plain_path(store: Store) -> None:
    """Zeros (unknown) and a missing column give identical answers, mixed in one selector."""
    eng = Engine()
    for q in ("rate(c_total[2m])", "increase(c_total[5m])", "irate(c_total[3m])",
              "resets(c_total[4m])"):
        res = eng.range_query(store, "t", q, 2 * M, 6 * M, 30_000)
        got = _by_kind(res)
        np.testing.assert_array_equal(got["plain"], got["zeros"])
        solo = eng.range_query(Store([store.series[0]]), "t", q.replace("c_total",
                               'c_total{kind="plain"}'), 2 * M, 6 * M, 30_000)
        np.testing.assert_array_equal(solo.series[0].vals, got["plain"])


def test_single_sample_with_start_inside_window() -> None:
    s = Store([_series("one", [7.0], [4 * M + 30_000], t0=5 * M)])
    eng = Engine()
    res = eng.instant_query(s, "t", "increase(c_total[5m])", 6 * M)
    assert res.series[0].vals[0] == pytest.approx(7.0)
    res = eng.instant_query(s, "t", "rate(c_total[5m])", 6 * M)
    assert res.series[0].vals[0] == pytest.approx(7.0 / 300)
    # start time outside the window: one sample is not enough
    assert eng.instant_query(s, "t", "increase(c_total[1m])", 6 * M).series == []


def test_stale_markers_keep_sts_aligned() -> None:
    vals = [10.0, 20.0, stale_nan(), 5.0, 15.0]
    # 5@4m has an invalid ST (after its T: ignored); 15@5m continues the restart at 3m.
    sts = [1, 1, 0, 4 * M + 30_000, 3 * M + 1]
    s = Store([_series("st", vals, sts), _series("plain", vals, None)])
    eng = Engine()
    got = _by_kind(eng.instant_query(s, "t", "resets(c_total[10m])", 5 * M))
    assert got["st"][0] == 1 == got["plain"][0]
    # sts misaligned by the dropped marker would give 15@5m the ST 4m30s: a reset
    irate = _by_kind(eng.instant_query(s, "t", "irate(c_total[10m])", 5 * M))
    assert irate["st"][0] == pytest.approx(10 / 60)


def test_subquery_drops_start_timestamps(store: Store) -> None:
    eng = Engine()
    got = _by_kind(eng.instant_query(store, "t", "resets(c_total[10m:1m])", 5 * M))
    assert got["restart"][0] == 0


def test_overlap_warning_names_metric() -> None:
    vals = [60.0, 120.0, 180.0]
    overlap = _series("overlap", vals, [1, 1, 1], name="a_total")
    overlap.start_timestamps[:] = [0, 30_000, 30_000]  # 2nd ST before 1st T, != 1st ST
    ok = _series("ok", vals, [30_000] * 3, name="b_total")
    eng = Engine()
    res = eng.instant_query(Store([overlap, ok]), "t", "rate({__name__=~'.+_total'}[5m])", 4 * M)
    assert len(res.series) == 2
    assert len(res.warnings) == 1
    assert 'overlaps with previous sample timestamp for metric "a_total"' in res.warnings[0]
    res = eng.instant_query(Store([ok]), "t", "rate(b_total[5m])", 4 * M)
    assert res.warnings == []


def test_start_timestamp_function(store: Store) -> None:
    eng = Engine()
    got = _by_kind(eng.instant_query(store, "t", "start_timestamp(c_total)", 4 * M + 10))
    assert got["restart"][0] == pytest.approx(210.0)
    assert got["plain"][0] == 0.0 and got["zeros"][0] == 0.0
    assert eng.instant_query(store, "t", "start_timestamp(c_total * 1)", 4 * M).series == []


# -- native histograms ------------------------------------------------------------------

def _hseries(kind: str, counts: list[float], sts: list[int] | None, name: str = "h_total",
             t0: int = M) -> Series:
    """Histogram samples (count = sum, no buckets) one minute apart; NaN marks staleness."""
    ts = t0 + np.arange(len(counts), dtype=np.int64) * M
    hs = [Histogram(sum=stale_nan()) if math.isnan(c) else Histogram(count=c, sum=c)
          for c in counts]
    return Series(Labels([("__name__", name), ("kind", kind)]), np.zeros(0, dtype=np.int64),
                  np.zeros(0), None,
                  HistogramSamples(ts, hs, None if sts is None else np.asarray(sts, np.int64)))


def _hcounts(res: QueryResult) -> dict[str, float]:
    return {s.labels.get("kind"): s.hists[0].count for s in res.series}


@pytest.fixture
def hstore() -> Store:
    counts = [10.0, 20.0, 30.0, 40.0, 50.0]
    restart_sts = [1, 1, 1, 3 * M + 30_000, 3 * M + 30_000]
    return Store([_hseries("plain", counts, None), _hseries("restart", counts, restart_sts)])


def test_histogram_st_reset_counts_without_count_drop(hstore: Store) -> None:
    eng = Engine()
    got = _by_kind(eng.instant_query(hstore, "t", "resets(h_total[10m])", 5 * M))
    assert got["restart"][0] == 1 and got["plain"][0] == 0
    irate = _hcounts(eng.instant_query(hstore, "t", "irate(h_total[3m])", 4 * M))
    assert irate["restart"] == pytest.approx(40 / 60) and irate["plain"] == pytest.approx(10 / 60)
    inc = _hcounts(eng.instant_query(hstore, "t", "increase(h_total[3m])", 5 * M))
    assert inc["restart"] > inc["plain"]
    # delta() is for gauges: start times play no part there
    delta = _hcounts(eng.instant_query(hstore, "t", "delta(h_total[3m])", 5 * M))
    assert delta["restart"] == delta["plain"]


def test_histogram_zero_sample_at_start_time_replaces_left_extrapolation() -> None:
    s = Store([_hseries("st", [10.0, 20.0, 30.0], [30_000] * 3),
               _hseries("plain", [10.0, 20.0, 30.0], None)])
    got = _hcounts(Engine().instant_query(s, "t", "increase(h_total[5m])", 3 * M))
    # from a zero at 30s: 30 over 150s, no extrapolation; without: 20 over 120s stretched
    # to the zero point (30s to the left) -> 25.
    assert got["st"] == pytest.approx(30.0) and got["plain"] == pytest.approx(25.0)


def test_single_histogram_sample_with_start_inside_window() -> None:
    s = Store([_hseries("one", [7.0], [4 * M + 30_000], t0=5 * M)])
    eng = Engine()
    assert eng.instant_query(s, "t", "increase(h_total[5m])", 6 * M).series[0].hists[0].count \
        == pytest.approx(7.0)
    assert eng.instant_query(s, "t", "rate(h_total[5m])", 6 * M).series[0].hists[0].count \
        == pytest.approx(7.0 / 300)
    assert eng.instant_query(s, "t", "increase(h_total[1m])", 6 * M).series == []
    assert eng.instant_query(s, "t", "delta(h_total[5m])", 6 * M).series == []


def test_stale_histogram_markers_keep_sts_aligned() -> None:
    # 5@4m has an invalid ST (after its T: ignored); 15@5m continues the restart at 3m.
    # Misaligned by the dropped marker, 15@5m would get the ST 4m30s: a second reset.
    s = Store([_hseries("st", [10.0, 20.0, math.nan, 5.0, 15.0],
                        [1, 1, 0, 4 * M + 30_000, 3 * M + 1])])
    eng = Engine()
    assert eng.instant_query(s, "t", "resets(h_total[10m])", 5 * M).series[0].vals[0] == 1
    irate = eng.instant_query(s, "t", "irate(h_total[10m])", 5 * M)
    assert irate.series[0].hists[0].count == pytest.approx(10 / 60)


def test_resets_over_floats_then_histograms_uses_both_start_times() -> None:
    lb = Labels([("__name__", "m_total"), ("kind", "mixed")])
    hs = HistogramSamples(np.array([3 * M, 4 * M], np.int64),
                          [Histogram(count=5, sum=5), Histogram(count=6, sum=6)],
                          np.array([1, 3 * M + 30_000], np.int64))
    for f_sts, want in ((None, 2), ([1, 1 * M + 30_000], 3)):
        s = Series(lb, np.array([M, 2 * M], np.int64), np.array([1.0, 2.0]),
                   None if f_sts is None else np.asarray(f_sts, np.int64), hs)
        res = Engine().instant_query(Store([s]), "t", "resets(m_total[10m])", 5 * M)
        # the float -> histogram switch, the histogram ST reset, then the float ST reset
        assert res.series[0].vals[0] == want


def test_subquery_drops_histogram_start_timestamps(hstore: Store) -> None:
    got = _by_kind(Engine().instant_query(hstore, "t", "resets(h_total[10m:1m])", 5 * M))
    assert got["restart"][0] == 0


def test_histogram_overlap_warning_names_metric() -> None:
    overlap = _hseries("overlap", [60.0, 120.0, 180.0], [0, 30_000, 30_000], name="a_total")
    ok = _hseries("ok", [60.0, 120.0, 180.0], [30_000] * 3, name="b_total")
    eng = Engine()
    res = eng.instant_query(Store([overlap, ok]), "t", "rate({__name__=~'.+_total'}[5m])", 4 * M)
    assert len(res.series) == 2 and len(res.warnings) == 1
    assert 'overlaps with previous sample timestamp for metric "a_total"' in res.warnings[0]
    assert eng.instant_query(Store([ok]), "t", "rate(b_total[5m])", 4 * M).warnings == []


def test_start_timestamp_function_reads_histogram_samples() -> None:
    lb = Labels([("__name__", "m"), ("kind", "mixed")])
    s = Series(lb, np.array([M], np.int64), np.array([1.0]), np.array([30_000], np.int64),
               HistogramSamples(np.array([2 * M], np.int64), [Histogram(count=1, sum=1)],
                                np.array([90_000], np.int64)))
    bare = _hseries("bare", [1.0], None, name="m")
    eng = Engine()
    st = Store([s, bare])
    got = _by_kind(eng.instant_query(st, "t", "start_timestamp(m)", M + 10))
    assert got == {"mixed": pytest.approx([30.0]), "bare": pytest.approx([0.0])}
    got = _by_kind(eng.instant_query(st, "t", "start_timestamp(m)", 2 * M + 10))
    assert got["mixed"][0] == pytest.approx(90.0)
