"""Scenario 4, query: median latency of a fixed PromQL set, instant and range.

Both systems get the same two hours of scrapes. Before timing, the harness
waits until each system returns every series (Tidewell's ingesters read the
log asynchronously), and checks that both answer each query with the same
number of series; a mismatch is noted next to the figure.
"""

from __future__ import annotations

import logging
import statistics
import time

import httpx

from benchmarks.launch import Server
from benchmarks.scenarios.common import (
    Context,
    Figure,
    NotAvailable,
    build_rows,
    make_server,
    measure_all,
    push,
    started,
)
from benchmarks.stats import SYSTEM_LABELS, Row
from benchmarks.workload import Workload

log = logging.getLogger("benchmarks")

HOURS = 2.0
RANGE_S = 3600
STEP_S = 60
RUNS_PER_REP = 3
VISIBLE_WAIT_S = 120.0

# (key, kind, PromQL). Metric names come from benchmarks.workload.metric_names.
QUERIES: tuple[tuple[str, str, str], ...] = (
    ("i_select", "instant", 'bench_http_requests_total{job="node-exporter"}'),
    ("i_rate_sum", "instant", "sum by (job) (rate(bench_http_requests_total[5m]))"),
    ("i_topk", "instant", "topk(5, sum by (instance) (rate(bench_http_errors_total[5m])))"),
    ("i_count_re", "instant", 'count by (cluster) ({__name__=~"bench_.+", namespace="ns-01"})'),
    ("r_rate_sum", "range", "sum by (job) (rate(bench_http_requests_total[5m]))"),
    ("r_avg_ot", "range", 'avg_over_time(bench_grpc_requests{cluster="prod-eu-1"}[10m])'),
    ("r_max_by", "range", "max by (namespace) (bench_grpc_requests)"),
)


def _query(client: httpx.Client, srv: Server, kind: str, expr: str, end_s: float) -> int:
    """Run one query; returns the number of result series or raises NotAvailable."""
    if kind == "instant":
        url, params = srv.api_url("query"), {"query": expr, "time": f"{end_s:.3f}"}
    else:
        url = srv.api_url("query_range")
        params = {"query": expr, "start": f"{end_s - RANGE_S:.3f}", "end": f"{end_s:.3f}",
                  "step": str(STEP_S)}
    try:
        resp = client.get(url, params=params)
    except httpx.HTTPError as exc:
        raise NotAvailable(f"{kind} query failed: {type(exc).__name__}: {exc}") from exc
    if resp.status_code == 404:
        raise NotAvailable(f"{url.split(str(srv.port))[1]} not implemented (HTTP 404)")
    if resp.status_code != 200:
        raise NotAvailable(f"{kind} query {expr!r}: HTTP {resp.status_code} {resp.text[:150]}")
    return len(resp.json()["data"]["result"])


def _wait_visible(client: httpx.Client, srv: Server, series: int, end_s: float) -> None:
    expr = 'count({__name__=~"bench_.+"})'
    deadline = time.monotonic() + VISIBLE_WAIT_S
    seen = -1
    while time.monotonic() < deadline:
        resp = client.get(srv.api_url("query"), params={"query": expr, "time": f"{end_s:.3f}"})
        if resp.status_code == 404:
            raise NotAvailable("query API not implemented (HTTP 404)")
        if resp.status_code == 200:
            res = resp.json()["data"]["result"]
            seen = int(float(res[0]["value"][1])) if res else 0
            if seen >= series:
                return
        time.sleep(1.0)
    raise NotAvailable(f"only {seen}/{series} series visible after {VISIBLE_WAIT_S:.0f}s")


def result_agreement(sizes: dict[str, dict[str, int]], key: str) -> str:
    """How many series each system answered: one number when all agree."""
    got = {s: n[key] for s, n in sizes.items() if key in n}
    if not got:
        return ""
    if len(set(got.values())) == 1:
        return f"{next(iter(got.values()))} series"
    return "RESULTS DIFFER: " + ", ".join(f"{SYSTEM_LABELS[s]} {n}" for s, n in got.items())


def run(ctx: Context) -> list[Row]:
    series = ctx.n(10_000)
    rounds = int(HOURS * 3600 / ctx.scrape_interval_s)
    start_ms = ctx.past_start_ms(rounds)
    wl = Workload(ctx.spec(series, start_ms=start_ms))
    log.info("query: encoding %d series x %d rounds", series, rounds)
    batch = wl.encode(rounds)
    end_s = (start_ms + (rounds - 1) * wl.interval_ms + wl.interval_ms) / 1000.0
    sizes: dict[str, dict[str, int]] = {}

    def measure(system: str) -> list[Figure]:
        with started(make_server(system, ctx, "query"), ctx.ready_timeout_s) as srv, \
                httpx.Client(timeout=60.0) as client:
            push(srv, batch, ctx)
            _wait_visible(client, srv, series, end_s)
            sizes[system] = {k: _query(client, srv, kind, q, end_s) for k, kind, q in QUERIES}
            figures = []
            for _ in range(ctx.reps):
                fig: Figure = {}
                for key, kind, expr in QUERIES:
                    lat = []
                    for _ in range(RUNS_PER_REP):
                        t0 = time.perf_counter()
                        _query(client, srv, kind, expr, end_s)
                        lat.append((time.perf_counter() - t0) * 1000)
                    fig[key] = statistics.median(lat)
                fig["all_instant"] = statistics.median(
                    [fig[k] for k, kind, _ in QUERIES if kind == "instant"])
                fig["all_range"] = statistics.median(
                    [fig[k] for k, kind, _ in QUERIES if kind == "range"])
                figures.append(fig)
            return figures

    results = measure_all(ctx, measure)
    notes = {key: result_agreement(sizes, key) for key, _kind, _q in QUERIES}
    metrics = [("all_instant", "median over instant queries", "ms", "lower"),
               ("all_range", f"median over range queries ({RANGE_S // 60}m, step {STEP_S}s)",
                "ms", "lower")]
    metrics += [(k, f"{kind}: {q}", "ms", "lower") for k, kind, q in QUERIES]
    return build_rows(f"query ({series} series, {HOURS:g}h)", results, metrics, notes)
