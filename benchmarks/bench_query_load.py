"""Push latency beside range-query loops, and ``/ready`` latency meanwhile.

Issue 14 measured 20 pushes/s of 1,000 samples going from p99 12 ms to 1,039 ms when 30
range-query loops ran beside them. This runs the same shape against ``python -m tidewell``
(single process): 1,000 series with 2 h of data, then for each loop count a fixed period
of 20 pushes/s (1,000 samples each) while the loops query, and prints p50/p99 of pushes
and of ``/ready`` probes, and the queries answered per second.

    PYTHONPATH=src python -m benchmarks.bench_query_load [--loops 0,10,30] [--seconds 20]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from benchmarks.launch import TidewellServer
from benchmarks.wire import RW1_HEADERS
from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress

SERIES = 1000
QUERY = "sum by (job) (rate(load_bench[5m]))"


def _body(labels: list[Labels], ts: np.ndarray) -> bytes:
    idx = np.repeat(np.arange(len(labels), dtype=np.int32), len(ts))
    batch = SampleBatch(labels=labels, series_index=idx, timestamps=np.tile(ts, len(labels)),
                        values=np.ones(len(idx)))
    return bytes(snappy_compress(encode_write_request(batch)))


def _phase(srv: TidewellServer, loops: int, seconds: float, now: int) -> dict[str, float]:
    stop = threading.Event()
    answered = [0]
    failed: list[str] = []

    def loop() -> None:
        with httpx.Client(timeout=120) as c:
            while not stop.is_set():
                r = c.get(srv.api_url("query_range"), params={
                    "query": QUERY, "start": (now - 3_600_000) / 1000, "end": now / 1000,
                    "step": "15"})
                if r.status_code != 200:
                    failed.append(f"{r.status_code} {r.text[:200]}")
                answered[0] += 1

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(loops)]
    for t in threads:
        t.start()
    time.sleep(1.0 if loops else 0)
    labels = [Labels([("__name__", "push_bench"), ("i", str(i))]) for i in range(SERIES)]
    push_ms, ready_ms = [], []
    t_end = time.monotonic() + seconds
    k = int(time.time() * 1000)
    with httpx.Client(timeout=60) as c:
        while time.monotonic() < t_end:
            tick = time.monotonic()
            k += 1
            body = _body(labels, np.array([k], dtype=np.int64))
            t0 = time.perf_counter()
            r = c.post(srv.push_url, content=body, headers=RW1_HEADERS)
            push_ms.append((time.perf_counter() - t0) * 1000)
            assert r.status_code in (200, 204), r.text
            t0 = time.perf_counter()
            c.get(srv.base_url + "/ready")
            ready_ms.append((time.perf_counter() - t0) * 1000)
            time.sleep(max(0.0, 0.05 - (time.monotonic() - tick)))
    stop.set()
    q0 = answered[0]
    for t in threads:
        t.join(120)
    if failed:
        raise SystemExit(f"{len(failed)} queries failed, first: {failed[0]}")
    return {"loops": loops, "pushes": len(push_ms),
            "push_p50": float(np.percentile(push_ms, 50)),
            "push_p99": float(np.percentile(push_ms, 99)),
            "ready_p50": float(np.percentile(ready_ms, 50)),
            "ready_p99": float(np.percentile(ready_ms, 99)),
            "queries_per_s": q0 / (seconds + (1.0 if loops else 0))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loops", default="0,10,30")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--cores", default="0,1")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        srv = TidewellServer(Path(d) / "data", cores=args.cores)
        with srv:
            srv.wait_ready()
            now = int(time.time() * 1000) // 15_000 * 15_000
            labels = [Labels([("__name__", "load_bench"), ("job", f"j{i % 10}"),
                              ("i", str(i))]) for i in range(SERIES)]
            ts = now - 7_200_000 + np.arange(480, dtype=np.int64) * 15_000
            r = httpx.post(srv.push_url, content=_body(labels, ts), headers=RW1_HEADERS, timeout=60)
            assert r.status_code in (200, 204), r.text
            time.sleep(3)
            for n in (int(x) for x in args.loops.split(",")):
                res = _phase(srv, n, args.seconds, now)
                print(" ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in res.items()), flush=True)


if __name__ == "__main__":
    main()
