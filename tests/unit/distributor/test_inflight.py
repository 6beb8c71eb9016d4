"""Per-instance in-flight push limits: past them a push gets 503 before its body is read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import REGISTRY
from starlette.applications import Starlette

from tidewell.distributor import DistributorConfig, push_routes
from tidewell.distributor.config import InstanceLimitsConfig
from tidewell.distributor.inflight import InflightLimiter, InflightLimitError
from tidewell.protocol import snappy_compress

from .helpers import Harness, TenantState, request

RW1 = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
       "X-Prometheus-Remote-Write-Version": "0.1.0", "X-Scope-OrgID": "team-a"}


def test_defaults_are_mimirs() -> None:
    limits = DistributorConfig().instance_limits
    assert (limits.max_inflight_push_requests, limits.max_inflight_push_requests_bytes) == (
        2000, 0)


def test_limiter_counts_requests_and_bytes_and_releases_them() -> None:
    lim = InflightLimiter(max_requests=2, max_bytes=100)
    with lim.admit(60) as a:
        assert (lim.requests, lim.bytes) == (1, 60)
        with (pytest.raises(InflightLimitError, match="max-inflight-push-requests-bytes"),
              lim.admit(50)):
            pass
        assert (lim.requests, lim.bytes) == (1, 60)  # the refused one holds nothing
        with lim.admit(0) as b:
            b.grow(40)  # a streamed body turns out 40 bytes
            with (pytest.raises(InflightLimitError, match="max-inflight-push-requests\\)"),
                  lim.admit(0)):
                pass
        with pytest.raises(InflightLimitError):
            a.grow(101)
    assert (lim.requests, lim.bytes) == (0, 0)
    assert REGISTRY.get_sample_value("cortex_distributor_inflight_push_requests") == 0


def test_push_over_the_inflight_limit_is_503_and_the_held_one_completes() -> None:
    h = Harness(config=DistributorConfig(
        instance_limits=InstanceLimitsConfig(max_inflight_push_requests=1)))
    app = TenantState(Starlette(routes=push_routes(h.distributor)))
    body = snappy_compress(request({"__name__": "up"}))
    release = asyncio.Event()

    async def slow_body() -> AsyncIterator[bytes]:
        yield body[:5]
        await release.wait()
        yield body[5:]

    async def scenario() -> tuple[int, int, str, int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            held = asyncio.ensure_future(c.post("/api/v1/push", content=slow_body(),
                                                headers=RW1))
            await asyncio.sleep(0.05)
            second = await c.post("/api/v1/push", content=body, headers=RW1)
            release.set()
            first = await held
            third = await c.post("/api/v1/push", content=body, headers=RW1)
            return first.status_code, second.status_code, second.text, third.status_code

    first, second, text, third = asyncio.run(scenario())
    assert (first, second, third) == (200, 503, 200)
    assert "err-mimir-distributor-max-inflight-push-requests" in text
    assert len(h.writer.records) == 2


def test_declared_body_over_the_byte_limit_is_503_unread() -> None:
    h = Harness(config=DistributorConfig(
        instance_limits=InstanceLimitsConfig(max_inflight_push_requests_bytes=10)))
    r = h.client.post("/api/v1/push", content=snappy_compress(request({"__name__": "up"})),
                      headers=RW1)
    assert r.status_code == 503 and "max-inflight-push-requests-bytes" in r.text
    assert h.writer.records == []
