"""Test helpers: a recording LogWriter fake, an in-process app, request builders."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import httpx
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from tidewell.distributor import Distributor, DistributorConfig, Limits, Overrides, push_routes
from tidewell.ingest.log import LogUnavailableError, ProduceRequest
from tidewell.protocol import decode_record_value
from tidewell.protocol.pb import prompb_pb2 as pb
from tidewell.ring import PartitionRing, PartitionRingDesc, PartitionState


class RecordingWriter:
    """LogWriter fake at the seam: keeps every acknowledged record, or fails on demand."""

    def __init__(self) -> None:
        self.records: list[ProduceRequest] = []
        self.fail = False

    async def produce(self, requests: Sequence[ProduceRequest]) -> list[int]:
        if self.fail:
            raise LogUnavailableError("log down (test)")
        out = []
        for r in requests:
            out.append(len(self.records))
            self.records.append(r)
        return out

    async def close(self) -> None:
        pass

    def batches(self):
        return [decode_record_value(r.value, r.version) for r in self.records]

    def series(self) -> dict:
        """labels -> list of (ts, value) over everything written."""
        out: dict = {}
        for b in self.batches():
            for i, ts, v in zip(b.series_index.tolist(), b.timestamps.tolist(),
                                b.values.tolist(), strict=True):
                out.setdefault(b.labels[i], []).append((ts, v))
        return out


def make_ring(n: int = 3, active: Sequence[int] | None = None) -> PartitionRing:
    desc = PartitionRingDesc()
    for p in range(n):
        state = PartitionState.ACTIVE if active is None or p in active else PartitionState.PENDING
        desc.add_partition(p, state, time.time())
    return PartitionRing(desc)


class TenantState:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            tenant = dict(scope["headers"]).get(b"x-scope-orgid", b"anonymous").decode()
            scope.setdefault("state", {})["tenant"] = tenant
        await self.app(scope, receive, send)


class SyncClient:
    """Drives the ASGI app in-process through httpx (no network, no threads)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def post(self, url: str, **kwargs):
        async def go():
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                return await c.post(url, **kwargs)

        return asyncio.run(go())


class Harness:
    def __init__(self, limits: Limits | None = None, config: DistributorConfig | None = None,
                 partitions: int = 3, max_record_size: int = 15_983_616) -> None:
        self.writer = RecordingWriter()
        self.overrides = Overrides(limits or Limits())
        self.ring = make_ring(partitions)
        self.distributor = Distributor(config or DistributorConfig(), self.overrides, self.ring,
                                       self.writer, max_record_size=max_record_size)
        app = Starlette(routes=push_routes(self.distributor))
        self.client = SyncClient(TenantState(app))

    def push(self, tenant: str, raw: bytes):
        return asyncio.run(self.distributor.push(tenant, raw))



def now_ms() -> int:
    return int(time.time() * 1000)


def series(wr: pb.WriteRequest, labels, samples=None, sort: bool = False) -> pb.TimeSeries:
    ts = wr.timeseries.add()
    pairs = list(labels.items()) if isinstance(labels, dict) else list(labels)
    if sort:
        pairs.sort()
    for n, v in pairs:
        lab = ts.labels.add()
        lab.name = n
        lab.value = v
    for t, v in samples if samples is not None else [(now_ms(), 1.0)]:
        s = ts.samples.add()
        s.timestamp = t
        s.value = v
    return ts


def request(*items) -> bytes:
    wr = pb.WriteRequest()
    for labels in items:
        series(wr, labels)
    return wr.SerializeToString()
