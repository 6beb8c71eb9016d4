"""Time from SIGTERM to exit of ``python -m tidewell`` under range-query loops.

Run: ``PYTHONPATH=<tree>/src python -m benchmarks.bench_shutdown [--loops 30] [--query Q]``.

A single process (``-target=all``) holds 1,000 series x 2 h; ``--loops`` threads ask
the serving scenario's range query back to back; after 5 s the process gets SIGTERM.
Printed: seconds to exit, its exit code, what the loops got after the signal, and
whether every series is there after a restart.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import httpx

from benchmarks.launch import TidewellServer
from benchmarks.scenarios.serving import QUERY, SERIES, SERVER_CORES, load_data
from tidewell.util.ports import free_port


def _started(data: Path, port: int) -> TidewellServer:
    srv = TidewellServer(data, cores=SERVER_CORES, port=port)
    srv.start()
    srv.wait_ready(90)
    return srv


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loops", type=int, default=30)
    ap.add_argument("--query", default=QUERY)
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="bench-shutdown-")) / "data"
    port = free_port()
    srv = _started(data, port)
    now = int(time.time() * 1000) // 15_000 * 15_000
    load_data(srv, now)
    stop = threading.Event()
    got: dict[object, int] = {}
    lock = threading.Lock()
    params = {"query": args.query, "start": (now - 3_600_000) / 1000, "end": now / 1000,
              "step": "15"}

    def loop() -> None:
        with httpx.Client(timeout=120) as c:
            while not stop.is_set():
                try:
                    key: object = c.get(srv.api_url("query_range"), params=params).status_code
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
    exit_s = srv.stop(timeout_s=120)
    assert srv.proc is not None
    code = srv.proc.returncode
    stop.set()
    print(f"before the signal (5 s): {before}")
    print(f"exit code {code} after {exit_s:.2f} s; answers after the signal: {got}")
    srv = _started(data, port)
    r = httpx.get(srv.api_url("query"), params={
        "query": "count(count_over_time(serving_load[3h]))", "time": now / 1000}).json()
    print(f"series after a restart: {r['data']['result'][0]['value'][1]} of {SERIES}")
    srv.stop(60)


if __name__ == "__main__":
    main()
