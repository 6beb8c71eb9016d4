"""Range-query latency: Tidewell's PromQL engine vs the Prometheus binary, same data.

Usage: python -m benchmarks.bench_promql [--series 10000] [--hours 24] [--runs 5]

Both engines are queried over HTTP on loopback (ours: the Prometheus API routes
under uvicorn, data in memory; Prometheus: a TSDB block made with
``promtool tsdb create-blocks-from openmetrics``). Prints the median latency
of each query on each side and their ratio.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from tests.conformance.memstore import MemStore
from tidewell.api.prometheus import query_routes
from tidewell.model import Labels
from tidewell.querier.config import QuerierConfig
from tidewell.util.ports import free_port

QUERIES = {
    "selector": "http_requests_total",
    "rate": "rate(http_requests_total[5m])",
    "sum by": "sum by (job) (rate(http_requests_total[5m]))",
    "histogram_quantile": "histogram_quantile(0.9, "
                          "sum by (le, job) (rate(req_duration_bucket[5m])))",
    "binop matching": "rate(http_requests_total[5m]) / on(job, instance) group_left "
                      "sum by (job, instance) (rate(http_requests_total[10m]))",
    "topk": "topk(5, rate(http_requests_total[5m]))",
    "subquery": "max_over_time(rate(http_requests_total[5m])[30m:1m])",
}
BUCKETS = ["0.1", "0.5", "1", "5", "+Inf"]


def dataset(n: int, hours: int, t0: int) -> dict[Labels, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(1)
    ts = t0 + np.arange(hours * 240, dtype=np.int64) * 15_000
    data = {}
    half = n // 2
    for i in range(half):
        lb = Labels([("__name__", "http_requests_total"), ("job", f"job{i % 10}"),
                     ("instance", f"i{i // 10}")])
        data[lb] = (ts, np.cumsum(rng.integers(0, 10, len(ts))).astype(float))
    for i in range(n - half):
        lb = Labels([("__name__", "req_duration_bucket"), ("job", f"job{i % 10}"),
                     ("instance", f"i{i // 50}"), ("le", BUCKETS[(i // 10) % 5])])
        data[lb] = (ts, np.cumsum(rng.integers(0, 3, len(ts))).astype(float)
                    * (1 + BUCKETS.index(lb.get("le"))))
    return data


def write_openmetrics(data: dict[Labels, tuple[np.ndarray, np.ndarray]], path: Path) -> None:
    with path.open("w") as f:
        for name, kind in (("http_requests", "counter"), ("req_duration_bucket", "gauge")):
            f.write(f"# TYPE {name} {kind}\n")
            metric = "http_requests_total" if kind == "counter" else name
            for lb, (ts, vs) in data.items():
                if lb.name != metric:
                    continue
                inner = ",".join(f'{k}="{v}"' for k, v in lb if k != "__name__")
                prefix = f"{metric}{{{inner}}} "
                f.writelines(f"{prefix}{v:.0f} {t // 1000}\n"
                             for t, v in zip(ts.tolist(), vs.tolist(), strict=True))
        f.write("# EOF\n")


def timed(client: httpx.Client, url: str, params: dict[str, str], runs: int) -> float:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get(url, params=params, timeout=600)
        out.append(time.perf_counter() - t)
        assert r.status_code == 200, r.text[:300]
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--step", default="60")
    args = ap.parse_args()
    t0 = (int(time.time() * 1000) - (args.hours + 2) * 3600_000) // 3600_000 * 3600_000
    data = dataset(args.series, args.hours, t0)
    tmp = Path(tempfile.mkdtemp(prefix="tw-bench-"))
    write_openmetrics(data, tmp / "data.om")
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics",
                    "--max-block-duration=24h", str(tmp / "data.om"), str(tmp / "tsdb")],
                   check=True, capture_output=True)
    (tmp / "data.om").unlink()
    (tmp / "p.yml").write_text("global: {}\n")
    pport, oport = free_port(), free_port()
    prom = subprocess.Popen(["prometheus", f"--config.file={tmp / 'p.yml'}",
                             f"--storage.tsdb.path={tmp / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{pport}",
                             "--storage.tsdb.retention.time=100y",
                             "--query.max-samples=500000000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = MemStore()
    store.series.update(data)
    app = Starlette(routes=[Mount("/prometheus", routes=query_routes(store, QuerierConfig()))])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=oport,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    start = (t0 + 3600_000 + 7_000) / 1000
    end = start + (args.hours - 1) * 3600
    params = {"start": str(start), "end": str(end), "step": args.step}
    prom_url = f"http://127.0.0.1:{pport}/api/v1/query_range"
    our_url = f"http://127.0.0.1:{oport}/prometheus/api/v1/query_range"
    with httpx.Client() as c:
        for _ in range(120):
            try:
                r = c.get(prom_url, params={**params, "query": "count(http_requests_total)"})
                if r.status_code == 200 and r.json()["data"]["result"]:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        print(f"{args.series} series x {args.hours}h at 15s, step {args.step}s, "
              f"median of {args.runs}")
        print(f"{'query':22s} {'prometheus':>12s} {'tidewell':>12s} {'ratio':>7s}")
        for name, q in QUERIES.items():
            p = {**params, "query": q}
            c.get(our_url, params=p, timeout=600)  # warm-up (JIT cache load)
            c.get(prom_url, params=p, timeout=600)
            tp = timed(c, prom_url, p, args.runs)
            to = timed(c, our_url, p, args.runs)
            print(f"{name:22s} {tp * 1000:10.1f}ms {to * 1000:10.1f}ms {to / tp:7.2f}")
    server.should_exit = True
    prom.terminate()
    prom.wait()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
