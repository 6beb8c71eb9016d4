"""Several queriers behind one frontend: round-robin, and failover when one cannot be reached.

The two downstreams are httpx clients over ``MockTransport``: one answers like a
querier and counts its requests, the other refuses every connection (what a
killed querier does on loopback).
"""

from __future__ import annotations

import json

import httpx
import pytest
from starlette.applications import Starlette

from tidewell.frontend import FrontendConfig, InMemoryCache, QueryFrontend
from tidewell.frontend.downstream import (
    DOWN_COOLDOWN_S,
    HTTPDownstream,
    http_downstream,
    parse_downstream_urls,
)
from tidewell.frontend.request import DownstreamUnavailableError

from .conftest import matrix_for, range_request

VECTOR = b'{"status":"success","data":{"resultType":"vector","result":[]}}'


class Querier:
    """A downstream that answers (``up``) or refuses connections, counting what it saw."""

    def __init__(self, name: str, up: bool = True) -> None:
        self.name, self.up, self.requests = name, up, 0
        self.connects = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.connects += 1
        if not self.up:
            raise httpx.ConnectError("connection refused", request=request)
        self.requests += 1
        if request.url.path.endswith("/query_range"):
            form = dict(httpx.QueryParams(request.content.decode()))
            req = range_request(float(form["start"]), float(form["end"]), float(form["step"]))
            return httpx.Response(200, content=json.dumps(matrix_for(req)).encode(),
                                  headers={"content-type": "application/json"})
        return httpx.Response(200, content=VECTOR, headers={"content-type": "application/json"})

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle),
                                 base_url=f"http://{self.name}")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_downstream_url_takes_a_comma_separated_list() -> None:
    assert parse_downstream_urls("http://q0:8080/, http://q1:8080") == [
        "http://q0:8080", "http://q1:8080"]
    assert parse_downstream_urls("http://q0:8080") == ["http://q0:8080"]
    assert parse_downstream_urls(" , ") == []
    ds = http_downstream("http://127.0.0.1:1,http://127.0.0.1:2", timeout=5, max_retries=0)
    assert [str(c.base_url) for c in ds.clients] == ["http://127.0.0.1:1", "http://127.0.0.1:2"]
    with pytest.raises(ValueError):
        http_downstream(",", timeout=5, max_retries=0)


@pytest.mark.anyio
async def test_requests_are_spread_round_robin() -> None:
    qs = [Querier("q0"), Querier("q1"), Querier("q2")]
    ds = HTTPDownstream([q.client() for q in qs])
    for _ in range(9):
        assert (await ds.do(range_request(0, 3600, 60))).status_code == 200
    assert [q.requests for q in qs] == [3, 3, 3]
    await ds.close()


@pytest.mark.anyio
async def test_one_querier_down_every_request_succeeds_on_the_other() -> None:
    down, up = Querier("down", up=False), Querier("up")
    clock = Clock()
    ds = HTTPDownstream([down.client(), up.client()], max_retries=0, clock=clock)
    for _ in range(6):  # no retries allowed: failing over to an untried querier is not one
        r = await ds.do(range_request(0, 3600, 60))
        assert r.status_code == 200
    assert up.requests == 6
    assert down.connects == 1  # then left out of the rotation for the cooldown
    clock.now += DOWN_COOLDOWN_S + 0.1
    assert (await ds.do(range_request(0, 3600, 60))).status_code == 200
    assert down.connects == 2  # tried again after the cooldown, failed over again
    down.up = True
    clock.now += DOWN_COOLDOWN_S + 0.1
    for _ in range(4):
        await ds.do(range_request(0, 3600, 60))
    assert down.requests == 2 and up.requests == 9  # back in the rotation
    await ds.close()


@pytest.mark.anyio
async def test_all_queriers_down_is_502_after_retries() -> None:
    qs = [Querier("q0", up=False), Querier("q1", up=False)]
    ds = HTTPDownstream([q.client() for q in qs], max_retries=2, backoff=0.001)
    with pytest.raises(DownstreamUnavailableError):
        await ds.do(range_request(0, 3600, 60))
    assert [q.connects for q in qs] == [3, 3]  # both, on each of 1 + 2 attempts
    await ds.close()


@pytest.mark.anyio
async def test_frontend_with_two_queriers_one_down_answers_everything() -> None:
    """The whole frontend (split by day, cache) over the pool: every split part succeeds."""
    down, up = Querier("down", up=False), Querier("up")
    cfg = FrontendConfig(max_retries_per_request=0)
    fe = QueryFrontend(cfg, HTTPDownstream([down.client(), up.client()]),
                       cache=InMemoryCache(1 << 20))
    app = Starlette(routes=fe.routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://fe") as c:
        r = await c.get("/prometheus/api/v1/query_range", params={
            "query": "m", "start": 0, "end": 3 * 86400, "step": 3600})
        assert r.status_code == 200, r.text
        assert len(r.json()["data"]["result"][0]["values"]) == 3 * 24 + 1
        r = await c.get("/prometheus/api/v1/query", params={"query": "m", "time": 10})
        assert r.status_code == 200
    assert up.requests >= 4 and down.requests == 0
    await fe.close()
