"""Large push bodies whose label values are too long, and ``/ready`` probed while one decodes.

Every series carries a label value over ``-validation.max-length-label-value``
(2048), so the push ends in a 400 and nothing reaches the ingester: what a
push costs is its decoding alone. Used by the e2e tests that check ``/ready``
keeps answering meanwhile and by ``benchmarks/bench_otlp_gil.py``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as svc

from tidewell.protocol import snappy_compress
from tidewell.protocol.pb import writev2_pb2 as pb2

__all__ = ["PushOutcome", "big_otlp_body", "big_rw2_body", "probe_ready_during_push"]


def big_rw2_body(series: int, pad: int, now_ms: int) -> tuple[bytes, int]:
    """Snappy RW 2.0 request of ``series`` series with ``pad``-byte label values, and its
    decoded size."""
    req = pb2.Request()
    req.symbols.extend(["", "__name__", "large_push", "id", "pad"])
    text = "p" * pad
    for i in range(series):
        base = len(req.symbols)
        req.symbols.extend([f"{i:09d}", f"{text}{i}"])
        ts = req.timeseries.add()
        ts.labels_refs.extend([1, 2, 3, base, 4, base + 1])
        ts.samples.add(value=float(i), timestamp=now_ms)
    raw = req.SerializeToString()
    return bytes(snappy_compress(raw)), len(raw)


def big_otlp_body(points: int, pad: int, now_ns: int) -> bytes:
    """OTLP request (uncompressed): one gauge of ``points`` points, each with a
    ``pad``-byte attribute value."""
    req = svc.ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    kv = rm.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "large_otlp"
    metric = rm.scope_metrics.add().metrics.add()
    metric.name = "large_otlp_push"
    text = "p" * pad
    for i in range(points):
        dp = metric.gauge.data_points.add()
        dp.time_unix_nano, dp.as_double = now_ns, float(i)
        a = dp.attributes.add()
        a.key, a.value.string_value = "id", f"{i:09d}"
        a = dp.attributes.add()
        a.key, a.value.string_value = "pad", f"{text}{i}"
    return req.SerializeToString()


@dataclass(repr=False)
class PushOutcome:
    """The push's status, seconds and first 200 characters of its answer; ``/ready``
    latencies (sorted, seconds) meanwhile."""

    status: int
    seconds: float
    text: str
    latencies: list[float]

    def quantile(self, q: float) -> float:
        return self.latencies[min(int(len(self.latencies) * q), len(self.latencies) - 1)]

    def __repr__(self) -> str:
        return (f"push {self.status} in {self.seconds:.2f}s, /ready during it: "
                f"n={len(self.latencies)} p50={self.quantile(0.5) * 1000:.1f} ms "
                f"p99={self.quantile(0.99) * 1000:.1f} ms max={self.latencies[-1] * 1000:.1f} ms")


def probe_ready_during_push(
    base_url: str, path: str, body: bytes, headers: dict[str, str]
) -> PushOutcome:
    """POST ``body`` from a thread and time ``GET /ready`` every 5 ms until it is answered.

    Probing starts at once (on a quiet machine a large push takes ~0.5 s), on a
    connection opened before the push; every ``/ready`` must answer 200.
    """
    done = threading.Event()
    answers: list[tuple[httpx.Response, float]] = []

    def push() -> None:
        try:
            t0 = time.perf_counter()
            r = httpx.post(f"{base_url}{path}", content=body, headers=headers, timeout=300)
            answers.append((r, time.perf_counter() - t0))
        finally:
            done.set()

    latencies: list[float] = []
    with httpx.Client(base_url=base_url, timeout=30) as c:
        assert c.get("/ready").status_code == 200  # the connection is open
        worker = threading.Thread(target=push)
        worker.start()
        while not done.is_set():
            t0 = time.perf_counter()
            assert c.get("/ready").status_code == 200
            latencies.append(time.perf_counter() - t0)
            time.sleep(0.005)
        worker.join()
    assert answers, "the push raised (see the thread's traceback above)"
    (r, seconds), = answers
    assert latencies, "the push ended before the first /ready"
    return PushOutcome(r.status_code, seconds, r.text[:200], sorted(latencies))
