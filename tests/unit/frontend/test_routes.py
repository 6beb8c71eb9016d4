"""The frontend end to end over HTTP, in front of a small Starlette app standing in for the
querier: header and tenant pass-through, proxying, 429 and timeouts."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tidewell.frontend import FrontendConfig, InMemoryCache, QueryFrontend, asgi_downstream
from tidewell.frontend.request import RANGE, QueryRequest

from .conftest import matrix_for

DAY = 86400


class FakeQuerierApp:
    def __init__(self, gate: asyncio.Event | None = None) -> None:
        self.seen: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.gate = gate
        self.app = Starlette(routes=[
            Route("/prometheus/api/v1/query_range", self.query_range, methods=["GET", "POST"]),
            Route("/prometheus/api/v1/query", self.query, methods=["GET", "POST"]),
            Route("/prometheus/api/v1/labels", self.labels, methods=["GET", "POST"]),
        ])

    async def _form(self, request: Request) -> dict[str, str]:
        form = dict(request.query_params)
        form.update(parse_qsl((await request.body()).decode()))
        self.seen.append((request.url.path, form, dict(request.headers)))
        if self.gate is not None:
            await self.gate.wait()
        return form

    async def query_range(self, request: Request) -> JSONResponse:
        f = await self._form(request)
        try:
            start, end, step = (round(float(f[k]) * 1000) for k in ("start", "end", "step"))
        except ValueError:
            return JSONResponse({"status": "error", "errorType": "bad_data",
                                 "error": "querier says: bad"}, 400)
        req = QueryRequest(RANGE, "x", f["query"], start, end, step)
        return JSONResponse(matrix_for(req))

    async def query(self, request: Request) -> JSONResponse:
        f = await self._form(request)
        return JSONResponse({"status": "success", "data": {
            "resultType": "scalar", "result": [float(f["time"]), "1"]}})

    async def labels(self, request: Request) -> JSONResponse:
        await self._form(request)
        return JSONResponse({"status": "success", "data": ["__name__", "job"]})


def client_for(fe: QueryFrontend) -> httpx.AsyncClient:
    app = Starlette(routes=fe.routes())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://fe")


@pytest.mark.anyio
async def test_split_query_passes_headers_and_tenant_to_every_part():
    q = FakeQuerierApp()
    fe = QueryFrontend(FrontendConfig(), asgi_downstream(q.app))
    async with client_for(fe) as c:
        r = await c.get("/prometheus/api/v1/query_range",
                        params={"query": "m", "start": 0, "end": 3 * DAY, "step": "10m"},
                        headers={"X-Read-Consistency": "strong", "X-Scope-OrgID": "team-a"})
    assert r.status_code == 200
    ranges = [(f["start"], f["end"]) for _, f, _ in q.seen]
    assert ranges == [("0", "85800"), ("86400", "172200"), ("172800", "259200")]
    for _, _, headers in q.seen:
        assert headers["x-read-consistency"] == "strong"
        assert headers["x-scope-orgid"] == "team-a"
    assert r.json() == matrix_for(QueryRequest(RANGE, "", "m", 0, 3 * DAY * 1000, 600_000))
    await fe.close()


@pytest.mark.anyio
async def test_cached_query_does_not_reach_the_querier_again_and_post_works():
    q = FakeQuerierApp()
    fe = QueryFrontend(FrontendConfig(), asgi_downstream(q.app),
                       cache=InMemoryCache(1 << 20))
    async with client_for(fe) as c:
        form = {"query": "m", "start": "1970-01-02T00:00:00Z", "end": 3 * DAY, "step": 60}
        r1 = await c.post("/prometheus/api/v1/query_range", data=form)
        r2 = await c.get("/prometheus/api/v1/query_range", params=form)
    assert r1.status_code == r2.status_code == 200
    assert r1.json() == r2.json()
    assert len(q.seen) == 2  # two days, each fetched once
    await fe.close()


@pytest.mark.anyio
async def test_other_paths_and_unparsable_queries_are_proxied():
    q = FakeQuerierApp()
    fe = QueryFrontend(FrontendConfig(), asgi_downstream(q.app))
    async with client_for(fe) as c:
        labels = await c.get("/prometheus/api/v1/labels", params={"match[]": "up"},
                             headers={"X-Read-Consistency": "strong"})
        bad = await c.get("/prometheus/api/v1/query_range",
                          params={"query": "m", "start": "yesterday", "end": 10, "step": 1})
        instant = await c.get("/prometheus/api/v1/query", params={"query": "1", "time": 1234})
        missing = await c.get("/prometheus/api/v1/nope")
    assert labels.json()["data"] == ["__name__", "job"]
    assert q.seen[0][1] == {"match[]": "up"} and q.seen[0][2]["x-read-consistency"] == "strong"
    assert bad.status_code == 400 and bad.json()["error"] == "querier says: bad"
    assert instant.json()["data"]["result"] == [1234.0, "1"]
    assert missing.status_code == 404
    await fe.close()


@pytest.mark.anyio
async def test_full_queue_answers_429_and_slow_queries_time_out():
    q = FakeQuerierApp(gate=asyncio.Event())
    cfg = FrontendConfig(max_outstanding_requests_per_tenant=1, querier_concurrency=1)
    fe = QueryFrontend(cfg, asgi_downstream(q.app))
    async with client_for(fe) as c:
        def send(i: int) -> asyncio.Task[httpx.Response]:
            return asyncio.create_task(c.get("/prometheus/api/v1/query",
                                             params={"query": "1", "time": i}))

        async def until(cond) -> None:  # type: ignore[no-untyped-def]
            async with asyncio.timeout(20):
                while not cond():
                    await asyncio.sleep(0.005)

        running = send(0)  # held by the gate in the querier
        await until(lambda: len(q.seen) == 1)
        queued = send(1)
        await until(lambda: fe.queue.queued("anonymous") == 1)
        rejected = await send(2)
        q.gate.set()
        rs = [await running, await queued]
    assert [r.status_code for r in rs] == [200, 200]
    assert rejected.status_code == 429 and rejected.json()["errorType"] == "unavailable"
    assert "max-outstanding-requests-per-tenant" in rejected.json()["error"]
    await fe.close()

    q = FakeQuerierApp(gate=asyncio.Event())
    fe = QueryFrontend(FrontendConfig(query_timeout=0.05), asgi_downstream(q.app))
    async with client_for(fe) as c:
        r = await c.get("/prometheus/api/v1/query", params={"query": "1", "time": 1})
    assert r.status_code == 503 and r.json()["errorType"] == "timeout"
    await fe.close()
