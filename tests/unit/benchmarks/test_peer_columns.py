"""How the scenarios treat the peers: result agreement and VictoriaMetrics's histogram series."""

from __future__ import annotations

from benchmarks.scenarios.common import NotAvailable, build_rows
from benchmarks.scenarios.histogram import as_count_series
from benchmarks.scenarios.query import result_agreement
from benchmarks.stats import Measured, Unavailable


def test_query_results_agree_or_name_who_differs() -> None:
    same = {"tidewell": {"q": 3}, "prometheus3": {"q": 3}, "victoriametrics": {"q": 3}}
    assert result_agreement(same, "q") == "3 series"
    differ = {"tidewell": {"q": 3}, "prometheus3": {"q": 3}, "victoriametrics": {"q": 2}}
    assert result_agreement(differ, "q") == (
        "RESULTS DIFFER: Tidewell 3, Prometheus 3 3, VictoriaMetrics 2")
    assert result_agreement({}, "q") == ""


def test_victoria_metrics_is_probed_on_its_count_series() -> None:
    probes = [((("__name__", "bench_hist_http_requests_total"), ("job", "a")), 1000)]
    assert as_count_series(probes) == [
        ((("__name__", "bench_hist_http_requests_total_count"), ("job", "a")), 1000)]


def test_rows_have_a_cell_for_every_system_measured_and_none_for_others() -> None:
    results = {"tidewell": [{"rate": 2.0}, {"rate": 4.0}],
               "prometheus3": NotAvailable("not selected"),
               "victoriametrics": [{"other": 1.0}]}
    (row,) = build_rows("s", results, [("rate", "rate", "1/s", "higher")])
    assert set(row.cells) == {"tidewell", "prometheus3", "victoriametrics"}
    assert row.cells["tidewell"] == Measured([2.0, 4.0])
    assert row.cells["prometheus3"] == Unavailable("not selected")
    assert row.cells["victoriametrics"] == Unavailable("not measured")
    assert row.cell("prometheus") == Unavailable("not run")
