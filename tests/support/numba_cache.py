"""Fill Numba's on-disk cache once before the tests start Tidewell processes.

On a clean checkout (CI) the cache beside the sources is empty: every process of a
cluster compiles the same kernels at once (two cores, ten processes), and an ingester
that compiles its snapshot kernels while stopping outlives the stop timeout and is
killed. One process that pushes, queries and stops first compiles them a single time;
the others then load them from the cache.
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as svc

import tidewell
from tests.support.ports import free_port
from tests.support.processes import wait_http_ok
from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress


def cache_is_cold() -> bool:
    """No compiled kernel anywhere Numba would look for this checkout's."""
    places = [Path(tidewell.__file__).parent]
    for var in ("NUMBA_CACHE_DIR", "TIDEWELL_NUMBA_CACHE_DIR"):
        if os.environ.get(var):
            places.append(Path(os.environ[var]))
    return not any(next(p.rglob("*.nbi"), None) for p in places if p.is_dir())


def _body(now_ms: int) -> bytes:
    labels = [Labels({"__name__": "warm_up", "series": str(i)}.items()) for i in range(4)]
    # 2 h at 15 s: 480 samples a series, several closed chunks for the queries to decode.
    ts = np.arange(now_ms - 7_200_000, now_ms, 15_000, dtype=np.int64)
    idx = np.repeat(np.arange(len(labels), dtype=np.int32), len(ts))
    all_ts = np.tile(ts, len(labels))
    batch = SampleBatch(labels=labels, series_index=idx, timestamps=all_ts,
                        values=all_ts.astype(np.float64))
    return bytes(snappy_compress(encode_write_request(batch)))


def _otlp_body(now_ms: int) -> bytes:
    req = svc.ExportMetricsServiceRequest()
    metric = req.resource_metrics.add().scope_metrics.add().metrics.add()
    metric.name = "warm_up_otlp"
    dp = metric.gauge.data_points.add()
    dp.time_unix_nano, dp.as_double = now_ms * 1_000_000, 1.0
    return gzip.compress(req.SerializeToString())


def _answers(url: str, now_ms: int) -> bool:
    """Both query kinds give the pushed series (eventual consistency: no waits server-side)."""
    for path, params in (
            ("query", {"query": "sum(rate(warm_up[5m]))", "time": now_ms / 1000}),
            ("query_range", {"query": "avg_over_time(warm_up[1m])",
                             "start": now_ms / 1000 - 7200, "end": now_ms / 1000, "step": 60})):
        try:  # a cold process compiles its kernels first: slow answers are expected
            r = httpx.get(f"{url}/prometheus/api/v1/{path}", params=params, timeout=60)
        except httpx.TimeoutException:
            return False
        if r.status_code != 200 or not r.json()["data"]["result"]:
            return False
    return True


def warm_up(timeout_s: float = 300.0) -> None:
    """Start ``tidewell`` (all-in-one), push, query, stop cleanly (head snapshot)."""
    with tempfile.TemporaryDirectory(prefix="tidewell-warm-up-") as tmp:
        port = free_port()
        log = Path(tmp) / "tidewell.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tidewell", f"-server.http-listen-port={port}",
                 "-server.http-listen-address=127.0.0.1", f"-common.storage.path={tmp}/data",
                 "-auth.multitenancy-enabled=false"],
                stdout=subprocess.DEVNULL, stderr=out)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http_ok(f"{url}/ready", proc, timeout_s, "tidewell (warm-up)", log.read_text)
            now_ms = int(time.time() * 1000)
            r = httpx.post(f"{url}/api/v1/push", content=_body(now_ms), timeout=timeout_s,
                           headers={"Content-Encoding": "snappy",
                                    "Content-Type": "application/x-protobuf"})
            assert r.status_code in (200, 204), r.text
            r = httpx.post(f"{url}/otlp/v1/metrics", content=_otlp_body(now_ms),
                           timeout=timeout_s, headers={"Content-Encoding": "gzip",
                                                       "Content-Type": "application/x-protobuf"})
            assert r.status_code == 200, r.text  # OTLP's kernels (``protocol.pieces``) too
            # Until the ingester has appended the push (it compiles its kernels first), so
            # the stop below snapshots a head: the chunk encoders are compiled too.
            deadline = time.monotonic() + timeout_s
            while not _answers(url, now_ms):
                assert time.monotonic() < deadline, f"push not queryable:\n{log.read_text()}"
                time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout_s)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
