"""The table maths: quantiles, medians, spread, ratios, and how cells render."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from benchmarks.report import render_report, render_table
from benchmarks.stats import Measured, Row, Unavailable, fmt_number, median, quantile, ratio


@pytest.mark.parametrize(
    "values", [[3.0], [1.0, 2.0], [5.0, 1.0, 4.0], [1, 9, 2, 8, 3, 7, 4], [0.5, 0.25, 10.0, 3.0]]
)
@pytest.mark.parametrize("q", [0.0, 0.25, 0.5, 0.75, 0.99, 1.0])
def test_quantile_matches_numpy_linear(values: list[float], q: float) -> None:
    assert quantile(values, q) == pytest.approx(float(np.quantile(values, q)))


def test_median_and_spread() -> None:
    m = Measured([10.0, 30.0, 20.0, 40.0])
    assert median([3, 1, 2]) == 2
    assert m.median == 25.0
    assert (m.min, m.max, m.n) == (10.0, 40.0, 4)
    assert m.iqr == pytest.approx(32.5 - 17.5)
    assert m.render() == "25 [10-40] (n=4)"
    assert Measured(7).render() == "7 (n=1)"
    with pytest.raises(ValueError):
        Measured([])
    with pytest.raises(ValueError):
        quantile([], 0.5)


def test_ratio_only_between_measured_cells() -> None:
    assert ratio(Measured([10, 20, 30]), Measured([40])) == pytest.approx(0.5)
    assert ratio(Unavailable("HTTP 404"), Measured([1])) is None
    assert ratio(Measured([1]), Measured([0])) is None
    row = Row("write", "rate", "samples/s",
              {"tidewell": Measured([200.0]), "prometheus": Measured([100.0]),
               "prometheus3": Unavailable("down"), "victoriametrics": Measured([400.0])})
    assert row.ratio("prometheus") == 2.0
    assert row.ratio("prometheus3") is None
    assert row.ratio_text() == "P2.42 2x · VM 0.5x"


def test_fmt_number() -> None:
    assert fmt_number(179_123) == "179k"
    assert fmt_number(2_500_000) == "2.5M"
    assert fmt_number(12.345) == "12.3"
    assert fmt_number(0.01234) == "0.0123"
    assert fmt_number(0) == "0"


def test_table_shows_reasons_and_ratios() -> None:
    rows = [
        Row("write", "samples/s", "samples/s",
            {"tidewell": Measured([50e3, 60e3, 70e3]),
             "prometheus": Measured([100e3, 120e3, 110e3]),
             "victoriametrics": Measured([240e3])}, note="4 streams"),
        Row("query", "p50", "ms",
            {"tidewell": Unavailable("/prometheus/api/v1/query not implemented"),
             "prometheus": Measured([3.0])}, better="lower"),
    ]
    table = render_table(rows)
    lines = table.strip().splitlines()
    assert len(lines) == 4
    assert lines[0] == ("| scenario | metric | unit | Tidewell | Prometheus 2.42 | VictoriaMetrics"
                        " | Tidewell / peer | notes |")
    expected = ("| 60k [50k-70k] (n=3) | 110k [100k-120k] (n=3) | 240k (n=1) "
                "| P2.42 0.545x · VM 0.25x (higher is better) |")
    assert expected in lines[2]
    assert "| n/a: not run |" in lines[3]
    assert "n/a: /prometheus/api/v1/query not implemented" in lines[3]
    assert "| - |" in lines[3]
    report = render_report(rows, command="python -m benchmarks run", settings={"scale": "0.1"},
                           when=dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC))
    assert report.startswith("## Run of 2026-01-02 03:04 UTC")
    assert "`python -m benchmarks run`" in report
    assert "cores" in report and "git revision" in report
