"""Query sharding in the local cluster: one query spread over two queriers (issue 15).

Run by hand (never as a timed test)::

    python -m benchmarks.bench_sharding_cluster [--series 10000] [--hours 2]
        [--shards 0,2,4,16] [--reps 5] [--peers prometheus,prometheus3] [--output BENCHMARKS.md]

One ``LocalCluster`` (1 zone x 2 partitions, 1 distributor, 2 queriers, 1 store-gateway,
1 query-frontend, Apache Kafka) gets ``--series`` series (10 metrics per target, 15 s scrapes
over ``--hours``) by remote write; the stored sample count is checked with
``count_over_time`` on every system. The frontend runs with
``-query-frontend.parallelize-shardable-queries`` and without results cache or
splitting; the tenant's ``query_sharding_total_shards`` comes from a runtime-config
file rewritten between passes (0 = sharding off), and each pass first waits until
the frontend's ``cortex_frontend_sharded_queries_total`` shows the new count in use.
An untimed pass of every query first; then per pass and query: one warm-up, the
median of ``--reps`` range queries (the whole span, 60 s step) through the frontend's
HTTP API; the answer is compared with the unsharded one. The same queries then run
against the Prometheus binaries loaded with the same requests. Every process shares
this machine's cores (and whatever else runs on it): the load average is printed
with the figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

from benchmarks.bench_cluster import check_stopped, cpu_seconds_from_stat, tidewell_pids
from benchmarks.launch import Prometheus3Server, PrometheusServer, Server, log_progress
from benchmarks.loadgen import send_batch_sync
from benchmarks.workload import Batch, Workload, WorkloadSpec, metric_names
from tidewell.tool.localcluster.supervisor import BROKERS, ClusterLayout, LocalCluster

__all__ = ["QUERIES", "same_answer"]

log = logging.getLogger("benchmarks.sharding_cluster")

INTERVAL_S = 15.0
STEP_S = 60
METRICS_PER_TARGET = 10  # each metric has series / 10 series
# Metric names: benchmarks.workload.metric_names(10) — even index a counter, odd a gauge.
QUERIES: tuple[tuple[str, str], ...] = (
    ("sum_rate", "sum by (job) (rate(bench_http_requests_total[5m]))"),
    ("avg_rate", "avg(rate(bench_process_requests_total[5m]))"),
    ("max_by", "max by (namespace) (bench_grpc_requests)"),
    ("count_cmp", "count(bench_go_requests > 50)"),
    ("topk", "topk(5, rate(bench_http_requests_total[5m]))"),
    ("quantile", "quantile(0.9, bench_grpc_requests)"),
    ("sum_re", 'sum by (cluster) ({__name__=~"bench_.+_total"})'),
    ("avg_ot", "sum by (job) (avg_over_time(bench_kafka_requests[10m]))"),
)
SETTINGS = {
    "auth.multitenancy-enabled": "false",
    "distributor.ingestion-rate-limit": "1000000000",
    "distributor.ingestion-burst-size": "1000000000",
    "ingester.max-global-series-per-user": "0",
    "query-frontend.parallelize-shardable-queries": "true",
    "query-frontend.cache-results": "false",
    "query-frontend.split-queries-by-interval": "0",
    "runtime-config.reload-period": "1s",
}
TENANT = "anonymous"
_SHARDED = re.compile(r"^cortex_frontend_sharded_queries_total (\S+)$", re.M)

Answer = dict[str, tuple[np.ndarray, np.ndarray]]


def answer_of(doc: dict) -> Answer:
    """A range answer as ``labels -> (timestamps, values)``."""
    out = {}
    for s in doc["data"]["result"]:
        pts = s.get("values", [])
        out[json.dumps(s["metric"], sort_keys=True)] = (
            np.array([p[0] for p in pts], dtype=np.float64),
            np.array([p[1] for p in pts], dtype=np.float64))
    return out


def same_answer(a: Answer, b: Answer) -> bool:
    """Same series, timestamps and values (to float rounding: shards sum in another order)."""
    return a.keys() == b.keys() and all(
        np.array_equal(a[k][0], b[k][0])
        and np.allclose(a[k][1], b[k][1], rtol=1e-9, atol=0, equal_nan=True) for k in a)


def load_average() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


class Target:
    """Where the queries go: a query-frontend's or a Prometheus's query API."""

    def __init__(self, api: str, client: httpx.Client) -> None:
        self.api = api.rstrip("/")
        self.client = client

    def get(self, endpoint: str, params: dict[str, str]) -> dict:
        r = self.client.get(f"{self.api}/{endpoint}", params=params)
        if r.status_code != 200:
            raise RuntimeError(f"{endpoint} {params.get('query')!r}: HTTP {r.status_code} "
                               f"{r.text[:200]}")
        return r.json()

    def range_query(self, expr: str, start_s: float, end_s: float) -> dict:
        return self.get("query_range", {"query": expr, "start": f"{start_s:.3f}",
                                        "end": f"{end_s:.3f}", "step": str(STEP_S)})

    def samples(self, names: list[str], end_s: float, span_s: int) -> int:
        """Samples held (per metric: ``count_over_time`` drops the names, which alone differ)."""
        total = 0
        for name in names:
            doc = self.get("query", {"query": f"sum(count_over_time({name}[{span_s}s]))",
                                     "time": f"{end_s:.3f}"})
            res = doc["data"]["result"]
            total += int(float(res[0]["value"][1])) if res else 0
        return total


def wait_samples(t: Target, want: int, end_s: float, span_s: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    names = metric_names(METRICS_PER_TARGET)
    while True:
        got = t.samples(names, end_s, span_s)  # eventual reads: the ingesters may lag
        if got == want or time.monotonic() > deadline:
            return got
        log.info("%d of %d samples queryable", got, want)
        time.sleep(5.0)


def time_queries(t: Target, start_s: float, end_s: float, reps: int,
                 shard_queries: Callable[[], float] | None = None
                 ) -> tuple[dict[str, float], dict[str, Answer], dict[str, float]]:
    """Per query: median wall ms of ``reps`` runs after one warm-up, the answer, and how
    many shard queries the warm-up ran (``shard_queries`` reads the frontend's counter)."""
    ms, answers, shards = {}, {}, {}
    for key, expr in QUERIES:
        before = shard_queries() if shard_queries else 0.0
        answers[key] = answer_of(t.range_query(expr, start_s, end_s))
        shards[key] = (shard_queries() if shard_queries else 0.0) - before
        lat = []
        for _ in range(reps):
            t0 = time.perf_counter()
            t.range_query(expr, start_s, end_s)
            lat.append((time.perf_counter() - t0) * 1000)
        ms[key] = statistics.median(lat)
    return ms, answers, shards


def sharded_total(frontend_url: str, client: httpx.Client) -> float:
    m = _SHARDED.search(client.get(f"{frontend_url}/metrics").text)
    return float(m.group(1)) if m else 0.0


def set_shards(cluster: LocalCluster, overrides: Path, shards: int, t: Target,
               start_s: float, end_s: float) -> None:
    """Write the tenant's shard count and wait until the frontend shards (or not) by it."""
    overrides.write_text(f"overrides:\n  {TENANT}:\n    query_sharding_total_shards: {shards}\n")
    fe = cluster.process("query-frontend-0").url
    deadline = time.monotonic() + 30.0
    while True:
        before = sharded_total(fe, t.client)
        t.range_query(QUERIES[0][1], start_s, end_s)
        delta = sharded_total(fe, t.client) - before
        if delta == (shards if shards > 1 else 0):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the frontend ran {delta:g} shard queries, not {shards}")
        time.sleep(0.5)


def process_cpu(pids: dict[str, int]) -> dict[str, float]:
    out = {}
    for name, pid in pids.items():
        try:
            out[name] = cpu_seconds_from_stat(Path(f"/proc/{pid}/stat").read_text())
        except OSError:
            out[name] = 0.0
    return out


def run_cluster(root: Path, batch: Batch, args: argparse.Namespace, start_s: float,
                end_s: float, span_s: int) -> tuple[dict, dict, dict, dict, str]:
    """Per shard count: ms per query, answers, CPU-s per process, shard queries per query;
    and the load-check note."""
    overrides = root / "overrides.yaml"
    root.mkdir(parents=True, exist_ok=True)
    overrides.write_text(f"overrides:\n  {TENANT}:\n    query_sharding_total_shards: 0\n")
    layout = ClusterLayout(zones=1, partitions=2, distributors=1, queriers=2, store_gateways=1,
                           query_frontends=1)
    cluster = LocalCluster(root / "cluster", layout, base_port=0, broker=args.broker,
                           settings={**SETTINGS, "runtime-config.file": str(overrides)},
                           ready_timeout_s=180.0, stop_timeout_s=30.0)
    t0 = time.perf_counter()
    cluster.start()
    log.info("cluster ready in %.0f s", time.perf_counter() - t0)
    try:
        push = f"{cluster.process('distributor-0').url}/api/v1/push"
        res = send_batch_sync(push, batch, protocol=1, deadline_s=900.0)
        if res.failed_samples or res.accepted_samples != batch.samples:
            raise RuntimeError(f"cluster push: {res.accepted_samples}/{batch.samples} "
                               f"accepted, first error {res.first_error()}")
        log.info("pushed %d samples in %.0f s", res.accepted_samples, res.wall_s)
        client = httpx.Client(timeout=300.0)
        t = Target(f"{cluster.process('query-frontend-0').url}/prometheus/api/v1", client)
        got = wait_samples(t, batch.samples, end_s, span_s, 900.0)
        note = f"pushed {batch.samples} in {res.wall_s:.0f} s, stored {got}"
        if got != batch.samples:
            raise RuntimeError(f"cluster holds {got} samples, not {batch.samples}")
        pids = {n: p for n, p in tidewell_pids(json.loads(cluster.state_file.read_text())).items()
                if n.startswith(("querier", "query-frontend"))}
        fe = cluster.process("query-frontend-0").url
        # One untimed pass first: the first queries after a big push were up to 2x slower
        # (the cluster settling), which would have counted against the first shard count.
        time_queries(t, start_s, end_s, 1)
        ms, answers, cpu, used = {}, {}, {}, {}
        for shards in args.shards:
            set_shards(cluster, overrides, shards, t, start_s, end_s)
            c0 = process_cpu(pids)
            ms[shards], answers[shards], used[shards] = time_queries(
                t, start_s, end_s, args.reps, lambda: sharded_total(fe, client))
            c1 = process_cpu(pids)
            cpu[shards] = {n: c1[n] - c0[n] for n in pids}
            log.info("shards=%d: %s (load %s)", shards,
                     ", ".join(f"{k} {v:.0f}ms" for k, v in ms[shards].items()), load_average())
        client.close()
        return ms, answers, cpu, used, note
    finally:
        check_stopped(cluster)


PEERS: dict[str, Callable[..., Server]] = {"prometheus": PrometheusServer,
                                           "prometheus3": Prometheus3Server}


def run_peer(name: str, root: Path, batch: Batch, args: argparse.Namespace, start_s: float,
             end_s: float, span_s: int) -> tuple[dict[str, float], dict[str, Answer]]:
    srv = PEERS[name](root / name, cores="0,1")
    with srv:
        srv.wait_ready(90.0)
        res = send_batch_sync(srv.push_url, batch, protocol=1, deadline_s=900.0)
        if res.failed_samples:
            raise RuntimeError(f"{name} push: first error {res.first_error()}")
        with httpx.Client(timeout=300.0) as client:
            t = Target(srv.api_url("").rstrip("/"), client)
            got = wait_samples(t, batch.samples, end_s, span_s, 60.0)
            if got != batch.samples:
                raise RuntimeError(f"{name} holds {got} samples, not {batch.samples}")
            ms, answers, _ = time_queries(t, start_s, end_s, args.reps)
    log.info("%s: %s (load %s)", name, ", ".join(f"{k} {v:.0f}ms" for k, v in ms.items()),
             load_average())
    return ms, answers


def render(args: argparse.Namespace, argv: list[str], batch: Batch, note: str,
           ms: dict, answers: dict, cpu: dict, used: dict, peers: dict,
           loads: tuple[str, str]) -> str:
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    base = args.shards[0]
    cols = [f"shards={n}" if n > 1 else "unsharded" for n in args.shards] + [
        PEERS[p].__name__.replace("Server", "") for p in peers]
    lines = [
        f"`{shlex.join(['python', '-m', 'benchmarks.bench_sharding_cluster', *argv])}` — "
        f"{now}, git {rev}, {os.cpu_count()} cores, load average {loads[0]} before and "
        f"{loads[1]} after (1/5/15 min; the machine is shared).",
        "",
        f"{args.series} series ({METRICS_PER_TARGET} metrics per target) x {args.hours:g} h "
        f"of {INTERVAL_S:g} s samples ({batch.samples} samples, {note}); range queries over "
        f"the whole span at a {STEP_S} s step through the query-frontend (2 queriers); "
        f"median of {args.reps} ms after one warm-up. Answers compared with the "
        f"{'unsharded' if base <= 1 else f'shards={base}'} one. \"(Nq)\": the frontend ran "
        "it as N shard queries (none shown: it ran whole).",
        "",
        "| query | " + " | ".join(cols) + " | sharded answers |",
        "|---|" + "---:|" * len(cols) + "---|",
    ]
    for key, expr in QUERIES:
        cells = [f"{ms[n][key]:.0f}" + (f" ({used[n][key]:.0f}q)" if used[n][key] else "")
                 for n in args.shards]
        cells += [f"{p[0][key]:.0f}" for p in peers.values()]
        same = all(same_answer(answers[base][key], answers[n][key]) for n in args.shards)
        lines.append(f"| `{expr}` | " + " | ".join(cells) +
                     f" | {'equal' if same else 'DIFFER'} |")
    med = [f"{statistics.median(ms[n].values()):.0f}" for n in args.shards]
    med += [f"{statistics.median(p[0].values()):.0f}" for p in peers.values()]
    lines.append("| median | " + " | ".join(med) + " | |")
    lines += ["", "CPU seconds per pass (all queries x (1 + reps)): " + "; ".join(
        f"{'unsharded' if n <= 1 else f'shards={n}'}: " + ", ".join(
            f"{name} {v:.1f}" for name, v in sorted(cpu[n].items())) for n in args.shards), ""]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_sharding_cluster",
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--series", type=int, default=10_000)
    p.add_argument("--hours", type=float, default=2.0)
    p.add_argument("--shards", type=lambda s: [int(x) for x in s.split(",")],
                   default=[0, 2, 4, 16])
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--peers", default="prometheus,prometheus3",
                   help="comma-separated: prometheus (2.42), prometheus3; empty for none")
    p.add_argument("--broker", choices=BROKERS, default="kafka",
                   help="tansu is quicker to start; its reads from S3 lag under load")
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--output", type=Path, default=None, help="append the table here")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    log_progress()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="tidewell-bench-shard-"))
    rounds = int(args.hours * 3600 / INTERVAL_S)
    iv = int(INTERVAL_S * 1000)
    first = (int(time.time() * 1000) // iv - rounds - 1) * iv
    wl = Workload(WorkloadSpec(series=args.series, metrics_per_target=METRICS_PER_TARGET,
                               scrape_interval_s=INTERVAL_S, shards=8, start_ms=first))
    t0 = time.perf_counter()
    batch = wl.encode(rounds)
    log.info("encoded %d samples in %.0f s", batch.samples, time.perf_counter() - t0)
    end_s = (first + rounds * iv) / 1000
    start_s = first / 1000 + 600  # every window of the queries is full
    span_s = rounds * int(INTERVAL_S) + int(INTERVAL_S)
    load0 = load_average()
    ms, answers, cpu, used, note = run_cluster(root, batch, args, start_s, end_s, span_s)
    peers = {p: run_peer(p, root, batch, args, start_s, end_s, span_s)
             for p in args.peers.split(",") if p}
    text = render(args, argv, batch, note, ms, answers, cpu, used, peers,
                  (load0, load_average()))
    print(text)
    if args.output:
        with open(args.output, "a") as fh:
            fh.write("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
