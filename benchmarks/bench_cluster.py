"""Issue 8's cluster benchmark: write and query throughput on the local multi-process cluster.

Run by hand (never as a timed test)::

    python -m benchmarks.bench_cluster [--distributors 1,2,4] [--queriers 1,2]
                                       [--series N] [--seconds S] [--reps R]

Each point starts its own ``LocalCluster`` (2 zones x 3 partitions, tansu,
etcd, moto S3, memcached), measures, and stops it again.

* write: a pre-encoded RW 1.0 load is spread round-robin over the distributor
  processes (one ordered stream per shard, so a series' samples never overtake
  each other). *Accepted* is samples acknowledged per second of push time;
  *stored* also waits until the last sample of every stream answers a
  ``X-Read-Consistency: strong`` query. CPU is the sum of utime+stime of every
  Tidewell process in ``cluster.json`` (``/proc/<pid>/stat``), per million samples.
* query: the query-frontend forwards to one downstream URL only, so a fixed set
  of instant and range queries goes straight to the queriers'
  ``/prometheus/api/v1/query[_range]``, round-robin.

Everything (cluster and load generator) shares this machine's cores, so more
processes mostly show overhead, not scale.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.launch import log_progress
from benchmarks.scenarios.catchup import selector
from benchmarks.stats import Measured, fmt_number, quantile
from benchmarks.wire import RW1_HEADERS
from benchmarks.workload import Batch, Workload, WorkloadSpec
from tidewell.tool.localcluster.supervisor import ClusterLayout, LocalCluster

__all__ = [
    "QueryResult",
    "WriteResult",
    "cpu_seconds_from_stat",
    "machine_busy",
    "parse_counts",
    "query_set",
    "rr_index",
    "tidewell_pids",
]

log = logging.getLogger("benchmarks.cluster")

_TICK = os.sysconf("SC_CLK_TCK")
SCRAPE_INTERVAL_S = 5.0
SAMPLES_PER_REQUEST = 2000
WARMUP_ROUNDS = 3
CALIBRATION_SAMPLES = 200_000
MAX_ROUNDS = 1400  # history budget: the workload starts MAX_ROUNDS intervals in the past
SETTINGS = {
    "auth.multitenancy-enabled": "false",
    "distributor.ingestion-rate-limit": "1000000000",
    "distributor.ingestion-burst-size": "1000000000",
    "ingester.max-global-series-per-user": "0",
}
STRONG = {"X-Read-Consistency": "strong"}


# --- pure helpers (unit-tested) ------------------------------------------------------------


def parse_counts(text: str) -> list[int]:
    """``"1,2,4"`` -> ``[1, 2, 4]``; every count must be positive."""
    out = [int(x) for x in text.split(",") if x.strip()]
    if not out or any(n <= 0 for n in out):
        raise ValueError(f"expected positive comma-separated counts, got {text!r}")
    return out


def rr_index(counter: int, n: int) -> int:
    """Round-robin target of the ``counter``-th request over ``n`` processes."""
    return counter % n


def cpu_seconds_from_stat(stat: str, tick: int = _TICK) -> float:
    """utime+stime of one ``/proc/<pid>/stat`` line (all threads of the process)."""
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick


def machine_busy(before: Sequence[int], after: Sequence[int]) -> float:
    """Busy % of all cores between two ``/proc/stat`` "cpu" lines (idle+iowait is idle)."""
    d = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(d[:8])  # user nice system idle iowait irq softirq steal
    return 100.0 * (total - d[3] - d[4]) / total if total > 0 else 0.0


def tidewell_pids(state: dict) -> dict[str, int]:
    """name -> pid of every running Tidewell process recorded in ``cluster.json``."""
    return {p["name"]: int(p["pid"]) for p in state.get("processes", []) if p.get("pid")}


def query_set(names: Sequence[str], end_s: float, range_s: float = 600.0,
              step_s: float = 15.0) -> list[tuple[str, dict[str, str]]]:
    """A fixed small set of instant and range queries over the written data.

    ``names`` are the workload's metric names (even index: counter).
    """
    counter, gauge = names[0], names[1]
    at = {"time": f"{end_s:.3f}"}
    rng = {"start": f"{end_s - range_s:.3f}", "end": f"{end_s:.3f}", "step": f"{step_s:g}"}
    return [
        ("query", {"query": f"sum(rate({counter}[1m]))", **at}),
        ("query", {"query": f"max by (job) ({gauge})", **at}),
        ("query", {"query": f"count by (cluster) ({{__name__=~\"{counter[:10]}.*\"}})", **at}),
        ("query_range", {"query": f"sum by (job) (rate({counter}[1m]))", **rng}),
        ("query_range", {"query": f"avg({gauge})", **rng}),
    ]


# --- measurement ---------------------------------------------------------------------------


def _proc_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return cpu_seconds_from_stat(fh.read())
    except OSError:
        return 0.0


def _machine_ticks() -> list[int]:
    with open("/proc/stat") as fh:
        return [int(x) for x in fh.readline().split()[1:]]


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


class CpuMeter:
    """Sums CPU seconds over the Tidewell processes listed in ``cluster.json``."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.pids = tidewell_pids(json.loads(cluster.state_file.read_text()))

    def total(self) -> float:
        return sum(_proc_cpu(pid) for pid in self.pids.values())


@dataclass
class WriteResult:
    accepted_sps: float
    stored_sps: float | None
    cpu_per_m: float | None  # Tidewell CPU-s per million samples, until stored
    client_util: float  # load generator CPU / push wall, %
    machine_busy: float  # all cores, during the push, %
    p50_ms: float
    p99_ms: float
    samples: int
    failed: int
    errors: dict[str, int] = field(default_factory=dict)


@dataclass
class QueryResult:
    qps: float
    p50_ms: float
    p99_ms: float
    cpu_per_k: float  # Tidewell CPU-s per thousand queries
    machine_busy: float
    failed: int
    errors: dict[str, int] = field(default_factory=dict)


async def _push(urls: list[str], batch: Batch, deadline_s: float) -> tuple[int, int, float,
                                                                           list[float], dict]:
    """Send every shard's requests in order, each to the next distributor round-robin."""
    ok = failed = 0
    lat: list[float] = []
    errors: dict[str, int] = {}
    counter = 0
    limits = httpx.Limits(max_connections=len(batch.shards) * len(urls) + 4)
    async with httpx.AsyncClient(timeout=60.0, limits=limits) as client:
        t0 = time.perf_counter()

        async def stream(reqs: list) -> None:
            nonlocal ok, failed, counter
            for req in reqs:
                if time.perf_counter() - t0 > deadline_s:
                    return
                url = urls[rr_index(counter, len(urls))]
                counter += 1
                t = time.perf_counter()
                try:
                    r = await client.post(url, content=req.body, headers=RW1_HEADERS)
                    status, text = r.status_code, r.text[:160]
                except httpx.HTTPError as exc:
                    status, text = 0, f"{type(exc).__name__}: {exc}"[:160]
                lat.append(time.perf_counter() - t)
                if 200 <= status < 300:
                    ok += req.samples
                else:
                    failed += req.samples
                    key = f"HTTP {status}: {text.strip()}"
                    errors[key] = errors.get(key, 0) + 1

        await asyncio.gather(*(stream(s) for s in batch.shards))
        wall = time.perf_counter() - t0
    return ok, failed, wall, lat, errors


def _probe_ok(client: httpx.Client, url: str, labels: tuple, ts_ms: int) -> bool:
    params = {"query": f"timestamp({selector(labels)})", "time": f"{ts_ms / 1000 + 1:.3f}"}
    try:
        r = client.get(f"{url}/prometheus/api/v1/query", params=params, headers=STRONG)
    except httpx.HTTPError:
        return False
    if r.status_code != 200:
        return False
    res = r.json()["data"]["result"]
    return bool(res) and float(res[0]["value"][1]) >= ts_ms / 1000 - 1e-6


def wait_stored(querier_url: str, probes: list, timeout_s: float = 90.0) -> float:
    """Seconds until every probe answers a strong read; raises on timeout."""
    t0 = time.perf_counter()
    pending = list(probes)
    with httpx.Client(timeout=60.0) as client:
        while pending:
            pending = [p for p in pending if not _probe_ok(client, querier_url, *p)]
            if pending:
                if time.perf_counter() - t0 > timeout_s:
                    raise RuntimeError(f"{len(pending)} probes not queryable after {timeout_s}s")
                time.sleep(0.05)
    return time.perf_counter() - t0


def count_series(querier_url: str, prefix: str, at_s: float) -> int:
    """Series with a sample in the last 5 minutes before ``at_s`` (strong read)."""
    q = f'count({{__name__=~"{prefix}_.+"}})'
    r = httpx.get(f"{querier_url}/prometheus/api/v1/query", headers=STRONG, timeout=120,
                  params={"query": q, "time": f"{at_s:.3f}"})
    r.raise_for_status()
    res = r.json()["data"]["result"]
    return int(float(res[0]["value"][1])) if res else 0


def new_cluster(root: Path, distributors: int, queriers: int) -> LocalCluster:
    layout = ClusterLayout(zones=2, partitions=3, distributors=distributors, queriers=queriers,
                           store_gateways=1, query_frontends=1)
    return LocalCluster(root, layout, base_port=0, settings=dict(SETTINGS), broker="tansu",
                        ready_timeout_s=180.0, stop_timeout_s=30.0)


def _workload(series: int, shards: int) -> Workload:
    iv = int(SCRAPE_INTERVAL_S * 1000)
    start = (int(time.time() * 1000) // iv - MAX_ROUNDS - 1) * iv
    return Workload(WorkloadSpec(series=series, samples_per_request=SAMPLES_PER_REQUEST,
                                 scrape_interval_s=SCRAPE_INTERVAL_S, shards=shards,
                                 start_ms=start))


def _load(urls: list[str], querier: str, wl: Workload, rounds: int) -> tuple[int, float, float]:
    """Encode and push ``rounds`` rounds, wait until stored; (samples, push wall, catch-up)."""
    batch = wl.encode(rounds)
    probes = wl.probes()
    ok, failed, wall, _, errors = asyncio.run(_push(urls, batch, 600.0))
    if failed:
        raise RuntimeError(f"load: {failed} samples failed: {next(iter(errors))}")
    return ok, wall, wait_stored(querier, probes)


def run_write(root: Path, distributors: int, args: argparse.Namespace) -> list[WriteResult]:
    cluster = new_cluster(root, distributors, 1)
    cluster.start()
    try:
        urls = [f"{cluster.process(f'distributor-{i}').url}/api/v1/push"
                for i in range(distributors)]
        querier = cluster.process("querier-0").url
        wl = _workload(args.series, args.streams)
        meter = CpuMeter(cluster)
        _load(urls, querier, wl, WARMUP_ROUNDS)  # creates every series
        # calibration: size the repetitions from the steady accepted rate
        cal = max(2, -(-CALIBRATION_SAMPLES // args.series))
        ok, wall, lag = _load(urls, querier, wl, cal)
        rate = ok / wall
        log.info("d=%d calibration: %s samples/s accepted, +%.1fs until stored", distributors,
                 fmt_number(rate), lag)
        used = WARMUP_ROUNDS + cal
        results = []
        for rep in range(args.reps):
            rounds = max(1, round(args.seconds * rate / args.series))
            rounds = min(rounds, MAX_ROUNDS - used - 2)
            used += rounds
            batch = wl.encode(rounds)
            probes = wl.probes()
            cpu0, own0, m0 = meter.total(), _own_cpu(), _machine_ticks()
            ok, failed, wall, lat, errors = asyncio.run(_push(urls, batch, 3 * args.seconds))
            own, busy = _own_cpu() - own0, machine_busy(m0, _machine_ticks())
            complete = ok == batch.samples
            lag = wait_stored(querier, probes) if complete else None
            cpu = meter.total() - cpu0
            res = WriteResult(
                accepted_sps=ok / wall,
                stored_sps=ok / (wall + lag) if lag is not None else None,
                cpu_per_m=cpu / ok * 1e6 if complete and ok else None,
                client_util=own / wall * 100, machine_busy=busy, p50_ms=quantile(lat, 0.5) * 1000,
                p99_ms=quantile(lat, 0.99) * 1000, samples=ok, failed=failed, errors=errors)
            rate = res.accepted_sps
            log.info("d=%d rep %d: %d samples in %.1fs (+%.1fs until stored), accepted %s/s, "
                     "%.1f CPU-s/M, client %.0f%%", distributors, rep, ok, wall, lag or -1,
                     fmt_number(res.accepted_sps), res.cpu_per_m or -1, res.client_util)
            results.append(res)
        at = (wl.round_start_ms(used - 1) + wl.interval_ms) / 1000
        n = count_series(querier, wl.spec.metric_prefix, at)
        if n != args.series:
            raise RuntimeError(f"stored series {n} != {args.series}")
        return results
    finally:
        check_stopped(cluster)


def run_query(root: Path, queriers: int, args: argparse.Namespace) -> list[QueryResult]:
    cluster = new_cluster(root, 1, queriers)
    cluster.start()
    try:
        push = [f"{cluster.process('distributor-0').url}/api/v1/push"]
        urls = [cluster.process(f"querier-{i}").url for i in range(queriers)]
        wl = _workload(args.series, args.streams)
        _load(push, urls[0], wl, args.query_rounds)
        end_s = (wl.round_start_ms(args.query_rounds - 1) + wl.interval_ms) / 1000
        queries = query_set(wl.names, end_s)
        meter = CpuMeter(cluster)
        asyncio.run(_query_load(urls, queries, 0.0, args.query_concurrency))  # warm-up: one pass
        results = []
        for rep in range(args.reps):
            cpu0, m0 = meter.total(), _machine_ticks()
            n, failed, wall, lat, errors = asyncio.run(
                _query_load(urls, queries, args.seconds, args.query_concurrency))
            cpu, busy = meter.total() - cpu0, machine_busy(m0, _machine_ticks())
            res = QueryResult(qps=n / wall, p50_ms=quantile(lat, 0.5) * 1000,
                              p99_ms=quantile(lat, 0.99) * 1000, cpu_per_k=cpu / n * 1000,
                              machine_busy=busy,
                              failed=failed, errors=errors)
            log.info("q=%d rep %d: %d queries in %.1fs, %.1f q/s, p50 %.0f ms, p99 %.0f ms, "
                     "%d failed", queriers, rep, n, wall, res.qps, res.p50_ms, res.p99_ms, failed)
            results.append(res)
        return results
    finally:
        check_stopped(cluster)


async def _query_load(urls: list[str], queries: list, seconds: float,
                      concurrency: int) -> tuple[int, int, float, list[float], dict]:
    """``concurrency`` workers cycle through ``queries``; each request goes to the next querier.

    ``seconds`` = 0 runs every query once per worker (a warm-up pass).
    """
    ok = failed = counter = 0
    lat: list[float] = []
    errors: dict[str, int] = {}
    async with httpx.AsyncClient(timeout=60.0) as client:
        t0 = time.perf_counter()

        async def worker(w: int) -> None:
            nonlocal ok, failed, counter
            i = w
            while True:
                if seconds == 0 and i >= w + len(queries):
                    return
                if seconds and time.perf_counter() - t0 > seconds:
                    return
                path, params = queries[i % len(queries)]
                i += 1
                url = urls[rr_index(counter, len(urls))]
                counter += 1
                t = time.perf_counter()
                r = await client.get(f"{url}/prometheus/api/v1/{path}", params=params)
                lat.append(time.perf_counter() - t)
                if r.status_code == 200 and r.json().get("status") == "success":
                    ok += 1
                else:
                    failed += 1
                    key = f"HTTP {r.status_code}: {r.text[:160]}"
                    errors[key] = errors.get(key, 0) + 1

        await asyncio.gather(*(worker(w) for w in range(concurrency)))
        wall = time.perf_counter() - t0
    return ok, failed, wall, lat, errors


def check_stopped(cluster: LocalCluster) -> None:
    """Stop the cluster and make sure none of its processes is left."""
    pids = [p.pid for p in [*cluster.processes.values(), *cluster.deps.values()] if p.pid]
    killed = cluster.stop()
    if killed:
        log.warning("needed SIGKILL: %s", ", ".join(killed))
    left = [pid for pid in pids if os.path.exists(f"/proc/{pid}") and _not_zombie(pid)]
    if left:
        raise RuntimeError(f"processes left after stop: {left}")


def _not_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# --- report --------------------------------------------------------------------------------


def _m(values: list[float | None]) -> str:
    vals = [v for v in values if v is not None]
    return Measured(vals).render() if vals else "n/a"


def render(writes: dict[int, list[WriteResult]], queries: dict[int, list[QueryResult]],
           args: argparse.Namespace, argv: list[str], took_s: float) -> str:
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## Local cluster: write and query throughput vs. process count (issue 8)",
        "",
        f"`{shlex.join(['python', '-m', 'benchmarks.bench_cluster', *argv])}` — {now}, "
        f"git {rev}, "
        f"{os.cpu_count()} cores, whole run {took_s:.0f} s.",
        "",
        "Each point is its own `LocalCluster` (2 zones x 3 partitions = 6 ingesters, 1 "
        "store-gateway, 1 query-frontend, tansu, etcd, moto S3, memcached). The cluster "
        f"and the load generator all share the machine's {os.cpu_count()} cores, so more "
        "processes "
        "mostly show overhead, not scale. Cells: median [min-max] (n = repetitions).",
        "",
        f"**Write**: {args.series} series x 10 labels, RW 1.0 pre-encoded, "
        f"{SAMPLES_PER_REQUEST} samples/request, {args.streams} ordered streams, each request "
        f"to the next distributor round-robin; {WARMUP_ROUNDS} warm-up rounds (series "
        f"creation) then ~{args.seconds:g} s per repetition. *Stored* waits until the last "
        "sample of every stream answers an `X-Read-Consistency: strong` query on querier-0; "
        "CPU = utime+stime of every Tidewell process in `cluster.json` until stored "
        "(dependencies not counted); *machine busy* = all cores during the push "
        "(`/proc/stat`, includes the load generator, the dependencies and anything else "
        "running). The series count is checked at the end.",
        "",
        "| distributors | samples/s accepted | samples/s stored | Tidewell CPU-s per 1M "
        "samples | push p50 ms | push p99 ms | load generator CPU % | machine busy % |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for d, rs in writes.items():
        lines.append(
            f"| {d} | {_m([r.accepted_sps for r in rs])} | {_m([r.stored_sps for r in rs])} | "
            f"{_m([r.cpu_per_m for r in rs])} | {_m([r.p50_ms for r in rs])} | "
            f"{_m([r.p99_ms for r in rs])} | {_m([r.client_util for r in rs])} | "
            f"{_m([r.machine_busy for r in rs])} |")
    lines += [
        "",
        f"**Query**: {args.series} series x {args.query_rounds} rounds "
        f"({SCRAPE_INTERVAL_S:g} s apart) written first; {args.query_concurrency} concurrent "
        "clients cycle through 5 queries (3 instant: `sum(rate(c[1m]))`, `max by (job)(g)`, "
        "`count by (cluster)({__name__=~…})`; 2 range over 10 min at 15 s step). The "
        "query-frontend forwards to one `-query-frontend.downstream-url` only, so the "
        "queriers' `/prometheus/api/v1/query[_range]` are queried directly, round-robin "
        f"(default read consistency); one warm-up pass, then ~{args.seconds:g} s per repetition.",
        "",
        "| queriers | queries/s | p50 ms | p99 ms | Tidewell CPU-s per 1k queries | "
        "machine busy % |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for q, rs in queries.items():
        lines.append(f"| {q} | {_m([r.qps for r in rs])} | {_m([r.p50_ms for r in rs])} | "
                     f"{_m([r.p99_ms for r in rs])} | {_m([r.cpu_per_k for r in rs])} | "
                     f"{_m([r.machine_busy for r in rs])} |")
    failed = sum(r.failed for rs in writes.values() for r in rs) + sum(
        r.failed for rs in queries.values() for r in rs)
    lines += ["", f"Failed requests: {failed}. Every cluster was stopped after its point "
              "and no process it started was left running.", ""]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_cluster", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--distributors", type=parse_counts, default=[1, 2, 4])
    p.add_argument("--queriers", type=parse_counts, default=[1, 2])
    p.add_argument("--series", type=int, default=10_000)
    p.add_argument("--seconds", type=float, default=20.0, help="load per repetition")
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--streams", type=int, default=16, help="concurrent ordered write streams")
    p.add_argument("--query-concurrency", type=int, default=8)
    p.add_argument("--query-rounds", type=int, default=120, help="rounds written before queries")
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--output", type=Path, default=Path("BENCHMARKS.md"))
    p.add_argument("--no-append", action="store_true", help="print only")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    log_progress()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="tidewell-bench-cluster-"))
    t0 = time.perf_counter()
    writes = {d: run_write(root / f"write-{d}", d, args) for d in args.distributors}
    queries = {q: run_query(root / f"query-{q}", q, args) for q in args.queriers}
    text = render(writes, queries, args, argv, time.perf_counter() - t0)
    print(text)
    if not args.no_append:
        with open(args.output, "a") as fh:
            fh.write("\n" + text)
        print(f"appended to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
