"""Recording-rule evaluations per second per core: Tidewell's ruler beside Prometheus 3.

Run: ``python -m benchmarks.bench_ruler [--series 10000] [--rules 200] [--groups 10]
[--interval 10] [--window 60]``.

Both servers (Tidewell single process, multi-tenancy off; Prometheus 3 with
``GOMAXPROCS=1``) run under ``taskset -c 0``; this script runs on core 1. Both get
the same 10 minutes of history remote-written (``bench_metric`` counters, 15 s
apart, each series labelled with the one rule that reads it), then evaluate the
same rule file: ``--rules`` recording rules ``sum by (job) (rate(bench_metric{rule="rN"}[10m]))``
split over ``--groups`` groups at ``--interval``. Over ``--window`` seconds we count
rule evaluations (``prometheus_rule_evaluations_total`` /
``cortex_prometheus_rule_evaluations_total``) and the server's CPU time, and
report, over the same window for both, evaluations per second, evaluations per
CPU-second (the per-core figure: it does not depend on whether the interval
leaves the core idle) and the mean
group evaluation time. Tidewell's figure includes what the ruler's design
costs: each rule's query through the query-frontend's HTTP API and each result
written through the distributor into the log and ingested.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

import cramjam
import httpx

from benchmarks.launch import Prometheus3Server, TidewellServer, pin_self
from tidewell.protocol.pb import prompb_pb2 as pb

STEP_S = 15
HISTORY_S = 600
BATCH = 2000


class RulerPrometheus(Prometheus3Server):
    """Prometheus 3 evaluating a rule file."""

    rule_file: Path

    def command(self) -> list[str]:
        cmd = super().command()
        cfg = self.data_dir.parent / f"{self.data_dir.name}.prometheus.yml"
        cfg.write_text(f"global:\n  evaluation_interval: 15s\nrule_files: [{self.rule_file}]\n")
        return cmd


def rule_groups(rules: int, groups: int, interval: int) -> list[dict]:
    per = rules // groups
    return [{"name": f"bench{g}", "interval": f"{interval}s", "rules": [
        {"record": f"bench_rule_{i}:rate10m",
         "expr": f'sum by (job) (rate(bench_metric{{rule="r{i}"}}[10m]))'}
        for i in range(g * per, (g + 1) * per)]} for g in range(groups)]


def history(series: int, rules: int, now: float) -> list[bytes]:
    """Snappy RW 1.0 requests of ``BATCH`` samples: every series, every 15 s, 10 minutes."""
    out = []
    req = pb.WriteRequest()
    n = 0
    t_end = int(now) * 1000
    for step in range(HISTORY_S // STEP_S):
        ts = t_end - (HISTORY_S // STEP_S - 1 - step) * STEP_S * 1000
        for i in range(series):
            s = req.timeseries.add()
            for k, v in (("__name__", "bench_metric"), ("instance", f"i{i}"),
                         ("job", f"j{i % 5}"), ("rule", f"r{i % rules}")):
                s.labels.add(name=k, value=v)
            s.samples.add(value=float(step * (1 + i % 7)), timestamp=ts)
            n += 1
            if n == BATCH:
                out.append(bytes(cramjam.snappy.compress_raw(req.SerializeToString())))
                req, n = pb.WriteRequest(), 0
    if n:
        out.append(bytes(cramjam.snappy.compress_raw(req.SerializeToString())))
    return out


def push_all(url: str, bodies: list[bytes]) -> None:
    with httpx.Client(timeout=60) as client:
        for body in bodies:
            r = client.post(url, content=body, headers={
                "Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"})
            if r.status_code // 100 != 2:
                raise RuntimeError(f"push to {url}: {r.status_code} {r.text[:200]}")


def wait_count(query_url: str, series: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(query_url, params={"query": "count(bench_metric)"}, timeout=30)
        res = r.json()["data"]["result"]
        if res and int(float(res[0]["value"][1])) == series:
            return
        time.sleep(1)
    raise RuntimeError(f"{query_url}: data not queryable after {timeout}s")


def metric_sum(url: str, name: str) -> float:
    text = httpx.get(url, timeout=30).text
    return sum(float(v) for v in re.findall(rf"^{name}(?:\{{[^}}]*\}})? (\S+)$", text, re.M))


def snapshot(server, prefix: str) -> tuple[float, float, float]:
    """(evaluations so far, server CPU seconds, monotonic time)."""
    return (metric_sum(server.base_url + "/metrics", f"{prefix}_rule_evaluations_total"),
            server.cpu_seconds(), time.monotonic())


def summary(server, prefix: str, start: tuple[float, float, float]) -> dict[str, float]:
    e1, c1, t1 = snapshot(server, prefix)
    e0, c0, t0 = start
    text = httpx.get(server.base_url + "/metrics", timeout=30).text
    durations = re.findall(rf"^{prefix}_rule_group_last_duration_seconds\{{[^}}]*\}} (\S+)$",
                           text, re.M)
    return {
        "evaluations": e1 - e0,
        "evaluations_per_s": (e1 - e0) / (t1 - t0),
        "evaluations_per_cpu_s": (e1 - e0) / max(c1 - c0, 1e-9),
        "cpu_s": c1 - c0,
        "mean_group_duration_s": sum(map(float, durations)) / max(len(durations), 1),
        "failures": metric_sum(server.base_url + "/metrics",
                               f"{prefix}_rule_evaluation_failures_total"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--rules", type=int, default=200)
    ap.add_argument("--groups", type=int, default=10)
    ap.add_argument("--interval", type=int, default=10)
    ap.add_argument("--window", type=float, default=60.0)
    args = ap.parse_args()
    pin_self({1})
    root = Path(tempfile.mkdtemp(prefix="bench-ruler-"))
    groups = rule_groups(args.rules, args.groups, args.interval)
    rule_file = root / "rules.yml"
    rule_file.write_text(json.dumps({"groups": groups}))
    prom = RulerPrometheus(root / "prom")
    prom.rule_file = rule_file
    tw = TidewellServer(root / "tidewell", extra_args=[
        "-ruler.poll-interval=2s", "-ruler.max-rules-per-rule-group=0",
        "-ruler.max-rule-groups-per-tenant=0"])
    results: dict[str, dict[str, float]] = {}
    try:
        for s in (prom, tw):
            s.start()
            s.wait_ready(120)
        bodies = history(args.series, args.rules, time.time())
        for s in (prom, tw):
            push_all(s.push_url, bodies)
            wait_count(s.api_url("query"), args.series)
        for g in groups:
            r = httpx.post(f"{tw.base_url}/prometheus/config/v1/rules/bench",
                           content=json.dumps(g), timeout=30)
            r.raise_for_status()
        time.sleep(2 * args.interval + 4)  # every group scheduled and evaluated once
        # Both measured over the same window: they share core 0, so evals/s is what each
        # got of it; evals per CPU-second is the per-core figure.
        starts = {"prometheus3": snapshot(prom, "prometheus"),
                  "tidewell": snapshot(tw, "cortex_prometheus")}
        time.sleep(args.window)
        results["prometheus3"] = summary(prom, "prometheus", starts["prometheus3"])
        results["tidewell"] = summary(tw, "cortex_prometheus", starts["tidewell"])
    finally:
        for s in (prom, tw):
            s.stop()
    print(json.dumps({"args": vars(args), "results": results}, indent=2))
    for name, r in results.items():
        print(f"{name:12s} {r['evaluations_per_s']:8.1f} evals/s  "
              f"{r['evaluations_per_cpu_s']:8.1f} evals/CPU-s  "
              f"group {r['mean_group_duration_s'] * 1000:7.1f} ms  failures {r['failures']:.0f}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
