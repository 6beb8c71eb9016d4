"""Scenario query: 12 dashboard range queries through each system's real storage (issue 15).

The same data goes into every system: the last 6 h of a fleet
(``benchmarks.query_data``, 10k series at scale 1) pushed by remote write, and
one 24 h block a day older, written once with our block writer (Prometheus's
format) and placed where each system reads blocks: Tidewell gets it uploaded by
``tidewell tool backfill`` into its bucket (read through the store-gateway:
the range lies beyond ``-querier.query-ingesters-within``), Prometheus finds it
in its data directory. VictoriaMetrics reads no Prometheus blocks, so it has the
head part only.

Tidewell runs with its query results cache off (as VictoriaMetrics with
``-search.disableCache``; Prometheus has none). Before timing, each system
must hold exactly the samples sent (``sum(count_over_time(…))`` over each
part) and be idle (its CPU time stops moving: Prometheus compacts, Tidewell's
ingesters cut and ship blocks). Then
each query runs 5 times over HTTP and its median is kept; the rows carry one
figure per repetition (``--reps``). The notes give the number of result series
(which must agree) and, on the summary rows, the median and worst
Tidewell/Prometheus 2.42 ratio over the 12 queries. The in-memory engine
benchmark is ``benchmarks/bench_promql.py``.
"""

from __future__ import annotations

import logging
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from benchmarks.launch import Server
from benchmarks.loadgen import send_stream_sync
from benchmarks.query_data import QueryDataset
from benchmarks.scenarios.common import (
    Context,
    Figure,
    NotAvailable,
    build_rows,
    make_server,
    measure_all,
    started,
)
from benchmarks.stats import SYSTEM_LABELS, Row

log = logging.getLogger("benchmarks")

HEAD_HOURS = 6
BLOCK_HOURS = 24
HEAD_STEP_S = 60
BLOCK_STEP_S = 120
RUNS = 5
VISIBLE_WAIT_S = 300.0
COUNT_PIECES = 4  # windows of the sample-count check (see _samples)
IDLE_WAIT_S = 180.0
BLOCK_RANGE_MS = BLOCK_HOURS * 3600 * 1000
TENANT = "anonymous"

# (key, PromQL): the shapes; metric names from benchmarks.query_data.
QUERIES: tuple[tuple[str, str], ...] = (
    ("selector", 'bench_http_requests_total{handler="h0",code="200"}'),
    ("rate", 'rate(bench_http_requests_total{code="200"}[5m])'),
    ("sum_by", "sum by (job) (rate(bench_http_requests_total[5m]))"),
    ("regex_sum_by",
     'sum by (code) (rate(bench_http_requests_total{handler=~"h[0-2]",job=~"api|db"}[5m]))'),
    ("topk", "topk(5, sum by (instance) (rate(bench_http_requests_total[5m])))"),
    ("avg_over_time", 'avg_over_time(bench_memory_bytes{area=~"a0[0-4]"}[1h])'),
    ("group_left", "sum by (instance) (rate(bench_http_requests_total[5m]))"
                   " * on (instance) group_left (team) bench_target_info"),
    ("subquery", "max_over_time(sum by (job) (rate(bench_http_requests_total[5m]))[30m:1m])"),
    ("filter", 'rate(bench_http_requests_total{handler="h1"}[5m]) > 0.5'),
    ("quantile", "quantile by (job) (0.9, bench_memory_bytes)"),
    ("histogram_quantile", "histogram_quantile(0.99, sum by (le, job) "
                           "(rate(bench_request_duration_seconds_bucket[5m])))"),
    ("count_by", "count by (cluster, job) (bench_memory_bytes > 500)"),
)
PARTS = ("head", "blocks")


def _get(client: httpx.Client, srv: Server, endpoint: str, params: dict[str, str]) -> list:
    try:
        resp = client.get(srv.api_url(endpoint), params=params)
    except httpx.HTTPError as exc:
        raise NotAvailable(f"{endpoint} failed: {type(exc).__name__}: {exc}") from exc
    if resp.status_code != 200:
        raise NotAvailable(f"{endpoint} {params.get('query')!r}: HTTP {resp.status_code} "
                           f"{resp.text[:150]}")
    return resp.json()["data"]["result"]


def _range(client: httpx.Client, srv: Server, expr: str, window: tuple[float, float, int]
           ) -> int:
    start, end, step = window
    params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": str(step)}
    return len(_get(client, srv, "query_range", params))


def _samples(client: httpx.Client, srv: Server, at_s: float, span_s: int) -> int:
    """Samples in ``(at_s - span_s - 60 s, at_s]``, counted over ``COUNT_PIECES`` adjacent
    windows: one window over 24 h of 10k series would be 57.6M samples, more than a
    query may load by default (50M, in every system)."""
    piece_ms = (span_s + 60) * 1000 // COUNT_PIECES
    at_ms = round(at_s * 1000)
    expr = f'sum(count_over_time({{__name__=~"bench_.+"}}[{piece_ms}ms]))'
    total = 0
    for k in range(COUNT_PIECES):
        t_ms = at_ms - k * piece_ms
        res = _get(client, srv, "query", {"query": expr, "time": f"{t_ms / 1000:.3f}"})
        total += int(float(res[0]["value"][1])) if res else 0
    return total


def _wait_samples(client: httpx.Client, srv: Server, at_s: float, span_s: int,
                  expected: int, what: str) -> None:
    deadline = time.monotonic() + VISIBLE_WAIT_S
    got = -1
    while time.monotonic() < deadline:
        got = _samples(client, srv, at_s, span_s)
        if got == expected:
            return
        if got > expected:
            break
        time.sleep(2.0)
    raise NotAvailable(f"{what}: holds {got} samples, {expected} were written")


def wait_idle(srv: Server, *, below_s: float = 0.05, quiet: int = 3) -> None:
    """Until the server's CPU time grows by less than ``below_s`` in each of ``quiet`` seconds."""
    deadline = time.monotonic() + IDLE_WAIT_S
    last, calm = srv.cpu_seconds(), 0
    while calm < quiet and time.monotonic() < deadline:
        time.sleep(1.0)
        now = srv.cpu_seconds()
        calm = calm + 1 if now - last < below_s else 0
        last = now


def result_agreement(sizes: dict[str, dict[str, int]], key: str) -> str:
    """How many series each system answered: one number when all agree."""
    got = {s: n[key] for s, n in sizes.items() if key in n}
    if not got:
        return ""
    if len(set(got.values())) == 1:
        return f"{next(iter(got.values()))} series"
    return "RESULTS DIFFER: " + ", ".join(f"{SYSTEM_LABELS[s]} {n}" for s, n in got.items())


def _backfill(block: Path, data_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tidewell", "tool", "backfill", "--tenant", TENANT,
         "--no-progress", f"-common.storage.path={data_dir}", str(block)],
        capture_output=True, text=True, timeout=600)
    if done.returncode:
        raise NotAvailable(f"backfill failed: {(done.stdout + done.stderr)[-300:]}")


def _ratios(results: dict[str, list[Figure] | NotAvailable], part: str) -> str:
    tw, pr = results.get("tidewell"), results.get("prometheus")
    if not isinstance(tw, list) or not isinstance(pr, list) or not tw or not pr:
        return ""
    ratios = []
    for key, _q in QUERIES:
        k = f"{part}:{key}"
        a = [f[k] for f in tw if k in f]
        b = [f[k] for f in pr if k in f]
        if a and b:
            ratios.append((statistics.median(a) / statistics.median(b), key))
    if not ratios:
        return ""
    worst = max(ratios)
    return (f"Tidewell/P2.42 per query: median {statistics.median(r for r, _ in ratios):.2f}x, "
            f"worst {worst[0]:.2f}x ({worst[1]})")


def run(ctx: Context) -> list[Row]:
    ds = QueryDataset(targets=max(2, round(200 * ctx.scale)),
                      interval_ms=int(ctx.scrape_interval_s * 1000))
    iv = ds.interval_ms
    rounds = HEAD_HOURS * 3600 * 1000 // iv
    head_start = (int(time.time() * 1000) // iv - rounds - 1) * iv
    head_end_s = (head_start + rounds * iv) / 1000
    block_rounds = BLOCK_RANGE_MS // iv
    block_start = (head_start - 2 * BLOCK_RANGE_MS) // 7_200_000 * 7_200_000
    block_end_s = (block_start + BLOCK_RANGE_MS) / 1000
    windows = {"head": (head_end_s - HEAD_HOURS * 3600, head_end_s, HEAD_STEP_S),
               "blocks": (block_end_s - BLOCK_HOURS * 3600, block_end_s - 1, BLOCK_STEP_S)}
    blocks_dir = ctx.workdir / "query-blocks"
    log.info("query: writing a %dh block of %d series", BLOCK_HOURS, ds.series)
    block = ds.write_block(blocks_dir, block_start, block_rounds, block_range_ms=BLOCK_RANGE_MS)
    sizes: dict[str, dict[str, int]] = {}

    def measure(system: str) -> list[Figure]:
        # As VictoriaMetrics runs with its cache off: Prometheus has none, and a repeated
        # query answered from Tidewell's results cache would not measure the storage.
        srv = make_server(system, ctx, "query",
                          extra_args=["-query-frontend.cache-results=false"])
        with_blocks = system != "victoriametrics"
        if system == "tidewell":
            _backfill(block, srv.data_dir)
        elif with_blocks:
            srv.data_dir.mkdir(parents=True, exist_ok=True)
            subprocess.run(["cp", "-r", str(block), str(srv.data_dir / block.name)], check=True)
        with started(srv, ctx.ready_timeout_s) as srv, httpx.Client(timeout=300.0) as client:
            res = send_stream_sync(srv.push_url, ds.push_rounds(
                head_start, rounds, shards=ctx.shards, per_request=ctx.samples_per_request),
                shards=ctx.shards)
            if res.failed_samples:
                raise NotAvailable(f"push: {res.failed_samples} samples rejected, first error "
                                   f"{res.first_error()}")
            _wait_samples(client, srv, head_end_s, HEAD_HOURS * 3600, ds.series * rounds, "head")
            parts = PARTS if with_blocks else ("head",)
            if with_blocks:
                _wait_samples(client, srv, block_end_s - 0.001, BLOCK_HOURS * 3600,
                              ds.series * block_rounds, "blocks")
            wait_idle(srv)
            sizes[system] = {f"{p}:{k}": _range(client, srv, q, windows[p])
                             for p in parts for k, q in QUERIES}
            figures: list[Figure] = []
            for _ in range(ctx.reps):
                fig: Figure = {}
                for part in parts:
                    for key, expr in QUERIES:
                        lat = []
                        for _ in range(RUNS):
                            t0 = time.perf_counter()
                            _range(client, srv, expr, windows[part])
                            lat.append((time.perf_counter() - t0) * 1000)
                        fig[f"{part}:{key}"] = statistics.median(lat)
                    fig[f"{part}:all"] = statistics.median(
                        [fig[f"{part}:{k}"] for k, _q in QUERIES])
                figures.append(fig)
            figures[-1]["rss"] = srv.rss_bytes() / 2**20
            return figures

    results = measure_all(ctx, measure)
    notes = {f"{p}:{k}": result_agreement(sizes, f"{p}:{k}") for p in PARTS for k, _q in QUERIES}
    notes.update({f"{p}:all": _ratios(results, p) for p in PARTS})
    notes["blocks:all"] += "; VictoriaMetrics reads no Prometheus blocks"
    desc = {"head": f"head, {HEAD_HOURS}h @ step {HEAD_STEP_S}s",
            "blocks": f"{BLOCK_HOURS}h block from the bucket, step {BLOCK_STEP_S}s"}
    metrics = []
    for part in PARTS:
        metrics.append((f"{part}:all", f"{desc[part]}: median of the 12 query medians", "ms",
                        "lower"))
        metrics += [(f"{part}:{k}", f"{part}: {q}", "ms", "lower") for k, q in QUERIES]
    metrics.append(("rss", "resident memory (VmRSS) after the queries", "MiB", "lower"))
    return build_rows(f"query ({ds.series} series, {HEAD_HOURS}h head + {BLOCK_HOURS}h block)",
                      results, metrics, notes)
