"""Each query limit ends the query before its memory grows past the limit's budget.

Every case runs in a fresh process (``rss_probe``) whose peak RSS is reset after the data
and the kernels are loaded, so the peak measured is the query's own. Before these limits,
``sum_over_time(vector(1)[1d:1ms])`` took 8.9 s and 2.7 GB before failing and
``count_over_time(m[1h:5ms])`` over 1,000 series reached 6.7 GB.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
DATA = {"series": 1000, "samples": 480, "interval_ms": 15_000}  # 2 h of 1,000 series
T_END = 7_200_000


def probe(spec: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    out = subprocess.run([sys.executable, "-m", "tests.unit.promql.rss_probe", json.dumps(spec)],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.serial  # the seconds the query takes are bounded: alone on its core
def test_subquery_grid_past_max_samples_fails_before_allocating() -> None:
    r = probe({"query": "sum_over_time(vector(1)[1d:1ms])", "at": 86_400_000})
    assert r["kind"] == "TooManySamplesError"
    assert r["error"] == ("query processing would load too many samples into memory in query "
                          "execution")
    assert r["seconds"] < 1.0
    assert r["peak_mb"] < 32  # the 86.4M-step grid alone would be 660 MB


def test_selector_past_max_samples_counts_points_before_its_arrays_exist() -> None:
    r = probe({"query": "count_over_time(m[1h:5ms])", "at": T_END, **DATA})
    assert r["kind"] == "TooManySamplesError"
    assert r["peak_mb"] < 100  # 1,000 x 720k steps would be 6.5 GB
    assert r["left_mb"] < 20


def test_max_samples_applies_to_points_not_to_sparse_cells() -> None:
    """Prometheus counts points: 1,000 x 3,601 cells pass when only 586 steps hold points."""
    r = probe({"query": "count_over_time(m[1h:1s])", "at": T_END, **DATA,
               "opts": {"max_samples": 2_000_000}})
    assert r["kind"] == "TooManySamplesError"
    sparse = {**DATA, "samples": 20, "interval_ms": 15_000}  # 5 min of data in the hour
    ok = probe({"query": "count_over_time(m[1h:1s])", "at": 3_600_000, **sparse,
                "opts": {"max_samples": 2_000_000}})
    assert ok["error"] is None and ok["series"] == 1000


def test_memory_budget_refuses_before_the_allocation_and_returns_memory() -> None:
    over = probe({"query": "sum(m)", "range": [0, T_END, 1000], **DATA,
                  "opts": {"max_memory_bytes": 50_000_000}})
    assert over["kind"] == "QueryLimitError"
    assert over["error"] == (
        "the query exceeded the maximum allowed estimated amount of memory consumed by a "
        "single query (limit: 50000000 bytes) (err-mimir-max-estimated-memory-consumption-"
        "per-query). Consider reducing the time range and/or number of series selected by "
        "the query. To adjust the related per-tenant limit, configure "
        "-querier.max-estimated-memory-consumption-per-query, or contact your service "
        "administrator.")
    assert over["peak_mb"] < 50
    under = probe({"query": "sum(m)", "range": [0, T_END, 1000], **DATA,
                   "opts": {"max_memory_bytes": 150_000_000}})
    assert under["error"] is None and under["series"] == 1
    assert 40 < under["peak_mb"] < 150  # the 1,000 x 7,201 block was really held
    assert under["left_mb"] < 20  # and given back


def test_fetched_series_and_chunk_bytes_limits() -> None:
    r = probe({"query": "m", "at": T_END, **DATA, "opts": {"max_fetched_series": 100}})
    assert r["kind"] == "QueryLimitError"
    assert r["error"].startswith(
        "the query exceeded the maximum number of series (limit: 100 series) "
        "(err-mimir-max-series-per-query). Consider reducing the time range")
    assert r["error"].endswith("configure -querier.max-fetched-series-per-query, or contact "
                               "your service administrator.")
    r = probe({"query": "count_over_time(m[2h])", "at": T_END, **DATA,
               "opts": {"max_fetched_chunk_bytes": 1_000_000}})
    assert r["kind"] == "QueryLimitError"
    assert "aggregated chunks size limit (limit: 1000000 bytes) " \
           "(err-mimir-max-chunks-bytes-per-query)" in r["error"]
    assert "-querier.max-fetched-chunk-bytes-per-query" in r["error"]


@pytest.mark.serial  # the seconds the query takes are bounded: alone on its core
def test_timeout_stops_a_long_query() -> None:
    # Four heavy terms one after another: the timed-out run stops in the first one or two.
    term = "count_over_time(m[1h:100ms])"
    slow = {"query": " + ".join([term] * 4), "at": T_END, **DATA}
    r = probe({**slow, "opts": {"timeout_s": 0.2}})
    assert r["kind"] == "QueryTimeoutError"
    assert r["error"] == "query timed out in expression evaluation"
    full = probe(slow)
    assert full["error"] is None
    # Stopped well before the whole evaluation would have ended (a ratio, not a fixed
    # figure: one term takes ~0.7 s on a quiet machine and several times that under load).
    assert r["seconds"] < full["seconds"] / 2, (r["seconds"], full["seconds"])


@pytest.mark.parametrize(("query", "error"), [
    ("count_over_time(m[2h])", "the query time range exceeds the limit (query length: 2h0m0s, "
     "limit: 1h0m0s) (err-mimir-max-query-length). To adjust the related per-tenant limit, "
     "configure -querier.max-partial-query-length, or contact your service administrator."),
    ("count_over_time(m[50m])", None),
])
def test_partial_query_length(query: str, error: str | None) -> None:
    r = probe({"query": query, "at": T_END, **DATA, "opts": {"max_query_length_ms": 3_600_000}})
    assert r["error"] == error
