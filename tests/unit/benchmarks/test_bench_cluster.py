"""The cluster benchmark's pure parts: counts, round-robin, /proc CPU, pids, query set, report."""

from __future__ import annotations

import argparse
import os
from collections import Counter

import pytest

from benchmarks.bench_cluster import (
    QueryResult,
    WriteResult,
    cpu_seconds_from_stat,
    machine_busy,
    parse_counts,
    query_set,
    render,
    rr_index,
    tidewell_pids,
)


def test_parse_counts() -> None:
    assert parse_counts("1,2,4") == [1, 2, 4]
    assert parse_counts("3") == [3]
    for bad in ("", "0", "1,-2"):
        with pytest.raises(ValueError):
            parse_counts(bad)


@pytest.mark.parametrize("n", [1, 2, 4])
def test_round_robin_spreads_evenly(n: int) -> None:
    counts = Counter(rr_index(i, n) for i in range(100 * n))
    assert set(counts) == set(range(n))
    assert set(counts.values()) == {100}


def test_cpu_seconds_from_stat_handles_spaces_in_comm() -> None:
    # comm may contain spaces and parentheses: fields are counted after the last ')'
    rest = ["S"] + ["0"] * 10 + ["250", "150"] + ["0"] * 30
    line = "1234 (python -m (x)) " + " ".join(rest)
    assert cpu_seconds_from_stat(line, tick=100) == pytest.approx(4.0)


def test_cpu_seconds_of_this_process_is_positive() -> None:
    with open(f"/proc/{os.getpid()}/stat") as fh:
        own = cpu_seconds_from_stat(fh.read())
    t = os.times()
    assert 0 < own <= t.user + t.system + 0.05


def test_tidewell_pids_skips_stopped() -> None:
    state = {"processes": [{"name": "distributor-0", "pid": 11},
                           {"name": "querier-0", "pid": None},
                           {"name": "ingester-zone-a-0", "pid": 12}],
             "deps": {"kafka": {"pid": 13}}}
    assert tidewell_pids(state) == {"distributor-0": 11, "ingester-zone-a-0": 12}


def test_query_set_covers_instant_and_range() -> None:
    qs = query_set(["bench_http_requests_total", "bench_grpc_requests"], end_s=1000.0)
    kinds = Counter(path for path, _ in qs)
    assert kinds == {"query": 3, "query_range": 2}
    for path, params in qs:
        if path == "query":
            assert params["time"] == "1000.000"
        else:
            assert float(params["end"]) - float(params["start"]) == 600.0
    assert any("bench_http_requests_total" in p["query"] for _, p in qs)
    assert any("bench_grpc_requests" in p["query"] for _, p in qs)


def test_render_shows_median_and_spread() -> None:
    args = argparse.Namespace(series=100, streams=8, seconds=5.0, query_rounds=10,
                              query_concurrency=4)
    w = [WriteResult(1000.0, 800.0, 50.0, 40.0, 90.0, 10.0, 20.0, 100, 0),
         WriteResult(3000.0, None, None, 60.0, 95.0, 12.0, 30.0, 100, 0)]
    q = [QueryResult(10.0, 5.0, 9.0, 1.0, 80.0, 0), QueryResult(20.0, 7.0, 11.0, 2.0, 90.0, 1)]
    text = render({1: w}, {2: q}, args, ["--reps", "2"], 12.0)
    assert "| 1 | 2k [1k-3k] (n=2) | 800 (n=1) | 50 (n=1) |" in text
    assert "| 2 | 15 [10-20] (n=2) |" in text
    assert "Failed requests: 1." in text
    assert "| 92.5 [90-95] (n=2) |" in text
    assert f"share the machine's {os.cpu_count()} cores" in text


def test_machine_busy() -> None:
    before = [100, 0, 100, 700, 100, 0, 0, 0, 0, 0]
    after = [200, 0, 200, 800, 100, 0, 0, 0, 0, 0]  # +100 user +100 system +100 idle
    assert machine_busy(before, after) == pytest.approx(200 / 3)
    assert machine_busy(before, before) == 0.0
