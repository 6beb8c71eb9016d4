"""Time from SIGTERM to exit of ``python -m tidewell`` under range-query loops.

Run: ``PYTHONPATH=<tree>/src python benchmarks/bench_shutdown.py [--loops 30] [--query Q]``.

A single process (``-target=all``) holds 1,000 series x 2 h; ``--loops`` threads ask
the serving scenario's range query back to back; after 5 s the process gets SIGTERM.
Printed: seconds to exit, its exit code, what the loops got after the signal, and
whether every series is there after a restart.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress
from tidewell.util.ports import free_port

SERIES = 1000
HEADERS = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
           "X-Prometheus-Remote-Write-Version": "0.1.0"}


def _start(data: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tidewell", f"-server.http-listen-port={port}",
         "-server.http-listen-address=127.0.0.1", f"-common.storage.path={data}",
         "-auth.multitenancy-enabled=false", "-distributor.ingestion-rate-limit=1000000000",
         "-distributor.ingestion-burst-size=1000000000",
         "-ingester.max-global-series-per-user=0"],
        stderr=(data.parent / f"log-{time.time_ns()}").open("wb"),
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready").status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"tidewell exited with {proc.returncode} while starting")
        time.sleep(0.2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loops", type=int, default=30)
    ap.add_argument("--query", default="sum by (job) (rate(serving_load[5m]))")
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="bench-shutdown-")) / "data"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start(data, port)
    now = int(time.time() * 1000) // 15_000 * 15_000
    labels = [Labels([("__name__", "serving_load"), ("job", f"j{i % 10}"), ("i", str(i))])
              for i in range(SERIES)]
    ts = now - 7_200_000 + np.arange(480, dtype=np.int64) * 15_000
    idx = np.repeat(np.arange(SERIES, dtype=np.int32), len(ts))
    batch = SampleBatch(labels=labels, series_index=idx, timestamps=np.tile(ts, SERIES),
                        values=np.ones(len(idx)))
    body = bytes(snappy_compress(encode_write_request(batch)))
    assert httpx.post(f"{url}/api/v1/push", content=body, headers=HEADERS,
                      timeout=60).status_code in (200, 204)
    stop = threading.Event()
    got: dict[object, int] = {}
    lock = threading.Lock()
    params = {"query": args.query, "start": (now - 3_600_000) / 1000, "end": now / 1000,
              "step": "15"}

    def loop() -> None:
        with httpx.Client(timeout=120) as c:
            while not stop.is_set():
                try:
                    key: object = c.get(f"{url}/prometheus/api/v1/query_range",
                                        params=params).status_code
                except httpx.HTTPError as e:
                    key = type(e).__name__
                with lock:
                    got[key] = got.get(key, 0) + 1

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(args.loops)]
    for t in threads:
        t.start()
    time.sleep(5)
    with lock:
        before = dict(got)
        got.clear()
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(120)
    exit_s = time.monotonic() - t0
    stop.set()
    print(f"before the signal (5 s): {before}")
    print(f"exit code {code} after {exit_s:.2f} s; answers after the signal: {got}")
    proc = _start(data, port)
    r = httpx.get(f"{url}/prometheus/api/v1/query", params={
        "query": "count(count_over_time(serving_load[3h]))", "time": now / 1000}).json()
    print(f"series after a restart: {r['data']['result'][0]['value'][1]} of {SERIES}")
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)


if __name__ == "__main__":
    main()
