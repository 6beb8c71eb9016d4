"""The sender: bounded concurrency, per-series order, honest accounting (in-process ASGI)."""

from __future__ import annotations

import asyncio

import cramjam
import httpx

from benchmarks.loadgen import send_batch, send_stream
from benchmarks.workload import Workload, WorkloadSpec
from tests.unit.benchmarks.pbdecode import decode_rw1


class _Receiver:
    """A remote-write endpoint that decodes, records, and rejects one job's requests."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.max_in_flight = 0
        self.last_ts: dict = {}
        self.out_of_order = 0
        self.headers: list[dict[str, str]] = []

    async def __call__(self, scope, receive, send) -> None:
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        await asyncio.sleep(0.002)
        self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
        series = decode_rw1(bytes(cramjam.snappy.decompress_raw(body)))
        reject = any(dict(ls).get("pod", "").endswith("-g1") for ls, _ in series)
        for labels, samples in series:
            for _v, ts in samples:
                if ts <= self.last_ts.get(labels, -1):
                    self.out_of_order += 1
                self.last_ts[labels] = ts
        self.in_flight -= 1
        status = 400 if reject else 204
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"churned" if reject else b""})


def test_send_batch_keeps_order_bounds_concurrency_and_counts() -> None:
    spec = WorkloadSpec(series=120, samples_per_request=25, shards=3, metrics_per_target=10)
    batch = Workload(spec).encode(4)
    app = _Receiver()
    res = asyncio.run(
        send_batch("http://bench/api/v1/write", batch, transport=httpx.ASGITransport(app))
    )
    assert app.out_of_order == 0
    assert 1 < app.max_in_flight <= 3
    assert res.requests == batch.requests == len(res.latencies_s)
    assert res.accepted_samples == batch.samples
    assert res.failed_samples == 0 and res.errors == {}
    assert res.samples_per_s > 0
    h = app.headers[0]
    assert h["content-encoding"] == "snappy"
    assert h["x-prometheus-remote-write-version"] == "0.1.0"


def test_rejected_requests_are_counted_not_accepted() -> None:
    # churn bumps pods to generation 1 from round 1 on; the receiver rejects those
    spec = WorkloadSpec(series=100, samples_per_request=50, shards=2, metrics_per_target=10,
                        churn=0.5)
    batch = Workload(spec).encode(3)
    res = asyncio.run(
        send_batch("http://bench/x", batch, transport=httpx.ASGITransport(_Receiver()))
    )
    assert res.failed_samples > 0
    assert res.accepted_samples + res.failed_samples == batch.samples
    assert res.first_error() == "HTTP 400: churned"


def test_send_stream_sends_every_round_in_order_while_encoding() -> None:
    spec = WorkloadSpec(series=120, samples_per_request=25, shards=3, metrics_per_target=10,
                        start_ms=1_700_000_000_000)
    wl = Workload(spec)
    app = _Receiver()
    ahead: list[int] = []  # rounds encoded beyond the newest one received

    async def watch(scope, receive, send) -> None:
        await app(scope, receive, send)
        newest = max(ts for ts in app.last_ts.values())
        ahead.append(wl.last_round.index - (newest - wl.start_ms) // wl.interval_ms)

    res = asyncio.run(send_stream("http://bench/api/v1/write", wl.stream(20), shards=3,
                                  queue_depth=1, transport=httpx.ASGITransport(watch)))
    assert res.accepted_samples == 20 * 120 and res.failed_samples == 0
    assert res.requests == Workload(spec).encode(20).requests
    assert app.out_of_order == 0
    assert len(app.last_ts) == 120
    assert 1 < app.max_in_flight <= 3
    # just in time: the encoder never ran more than a few rounds ahead of the senders
    assert max(ahead) <= 3


def test_send_stream_stops_at_the_deadline() -> None:
    spec = WorkloadSpec(series=100, samples_per_request=10, shards=2, start_ms=1_700_000_000_000)
    wl = Workload(spec)
    res = asyncio.run(send_stream("http://bench/x", wl.stream(1000), shards=2, deadline_s=0.3,
                                  transport=httpx.ASGITransport(_Receiver())))
    assert 0 < res.accepted_samples < 1000 * 100
    assert wl.last_round is not None and wl.last_round.index < 999  # stopped encoding too
