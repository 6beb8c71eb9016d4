"""Split and cached answers equal unsplit ones, against the real query API and engine."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from tidewell.frontend import FrontendConfig, InMemoryCache, QueryFrontend, asgi_downstream
from tidewell.frontend.request import RANGE, QueryRequest
from tidewell.frontend.split import split_by_interval

from .conftest import DAY_MS, T0, free_port

H_MS = 3_600_000

QUERIES = [
    # (query, start offset ms, end offset ms, step s)
    ("rate(http_requests_total[5m])", 20 * H_MS, 28 * H_MS, 60),
    ("sum by (job) (rate(http_requests_total[10m]))", 0, 3 * DAY_MS, 300),
    ('http_requests_total{instance="c"}', 22 * H_MS, 50 * H_MS, 120),
    ("increase(http_requests_total[1h])", 7_000, 2 * DAY_MS + 7_000, 60),
    ("max_over_time(temperature[1h])", 0, 3 * DAY_MS, 900),
    ("topk(2, temperature)", 12 * H_MS, 60 * H_MS, 1800),
    ("temperature offset 1h - on(job, instance) temperature", 0, 2 * DAY_MS, 600),
    ("count by (job) (temperature > 60)", 0, 3 * DAY_MS, 3600),
    ("sum(http_requests_total) / 1000", DAY_MS - 60_000, DAY_MS + 60_000, 60),
]


class Counting:
    """Counts the range queries reaching the querier."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.range_queries = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/query_range"):
            self.range_queries += 1
        await self.app(scope, receive, send)


def _params(q: str, start: int, end: int, step: int) -> dict[str, str]:
    return {"query": q, "start": str((T0 + start) / 1000), "end": str((T0 + end) / 1000),
            "step": str(step)}


async def _get(app: ASGIApp, params: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as c:
        return await c.get("/prometheus/api/v1/query_range", params=params)


@pytest.mark.anyio
async def test_split_and_cached_results_equal_unsplit(query_api):
    counting = Counting(query_api)
    fe = QueryFrontend(FrontendConfig(), asgi_downstream(counting), cache=InMemoryCache(64 << 20))
    fe_app = Starlette(routes=fe.routes())
    for q, start, end, step in QUERIES:
        params = _params(q, start, end, step)
        direct = await _get(query_api, params)
        assert direct.status_code == 200, direct.text
        assert direct.json()["data"]["result"], q  # the comparison must not be vacuous
        before = counting.range_queries
        split = await _get(fe_app, params)
        parts = counting.range_queries - before
        cached = await _get(fe_app, params)
        assert split.status_code == cached.status_code == 200
        assert split.json() == direct.json(), q
        assert cached.json() == direct.json(), q
        req = QueryRequest(RANGE, "anonymous", q, T0 + start, T0 + end, step * 1000)
        assert parts == len(split_by_interval(req, DAY_MS)), q
        aligned = (T0 + start) % (step * 1000) == 0 and (T0 + end) % (step * 1000) == 0
        # step-aligned queries come from the cache the second time; others are not cached
        assert counting.range_queries == before + parts * (1 if aligned else 2), q
    await fe.close()


@pytest.mark.anyio
async def test_overlapping_queries_reuse_extents(query_api):
    counting = Counting(query_api)
    fe = QueryFrontend(FrontendConfig(), asgi_downstream(counting), cache=InMemoryCache(64 << 20))
    fe_app = Starlette(routes=fe.routes())
    q = "sum by (job) (rate(http_requests_total[5m]))"
    for start, end in [(2 * H_MS, 10 * H_MS), (6 * H_MS, 30 * H_MS), (0, 40 * H_MS)]:
        params = _params(q, start, end, 60)
        assert (await _get(fe_app, params)).json() == (await _get(query_api, params)).json()
    # 1: [2h,10h]; 2: day 1 gap [10h,24h) + day 2 [24h,30h]; 3: [0,2h] + [30h,40h]
    assert counting.range_queries == 5
    await fe.close()


@pytest.fixture
def served_api(query_api) -> Iterator[str]:
    """The query API behind a real uvicorn server on loopback."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(query_api, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(600):  # up to 15 s on a loaded machine
        if server.started:
            break
        threading.Event().wait(0.025)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.anyio
async def test_http_downstream_to_a_querier_process(query_api, served_api):
    cfg = FrontendConfig(downstream_url=served_api, query_timeout=30)
    fe = QueryFrontend.from_config(cfg)
    fe_app = Starlette(routes=fe.routes())
    q, start, end, step = QUERIES[1]
    params = _params(q, start, end, step)
    got = await _get(fe_app, params)
    assert got.json() == (await _get(query_api, params)).json()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fe_app),
                                 base_url="http://t") as c:
        labels = await c.get("/prometheus/api/v1/label/job/values")
    assert labels.json()["data"] == ["api", "db"]
    await fe.close()


@pytest.mark.anyio
async def test_unreachable_querier_is_retried_then_502():
    cfg = FrontendConfig(downstream_url=f"http://127.0.0.1:{free_port()}",
                         max_retries_per_request=2, query_timeout=10)
    fe = QueryFrontend.from_config(cfg)
    fe.downstream.backoff = 0.01
    started = asyncio.get_running_loop().time()
    r = await _get(Starlette(routes=fe.routes()), _params("up", 0, H_MS, 60))
    assert r.status_code == 502 and r.json()["errorType"] == "unavailable"
    assert asyncio.get_running_loop().time() - started < 5
    await fe.close()


@pytest.mark.anyio
async def test_strong_read_consistency_reaches_the_querier_for_every_part(query_api):
    from tidewell.api.consistency import ReadConsistencyMiddleware
    from tidewell.api.tenant import TenantMiddleware

    waited: list[str] = []

    async def wait(tenant: str) -> None:
        waited.append(tenant)

    querier = TenantMiddleware(
        ReadConsistencyMiddleware(query_api, wait=wait, default_level=lambda _: "eventual"),
        multitenancy_enabled=True)
    fe = QueryFrontend(FrontendConfig(), asgi_downstream(querier), cache=InMemoryCache(1 << 20))
    fe_app = Starlette(routes=fe.routes())
    params = _params("sum(temperature)", 0, 2 * DAY_MS, 600)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fe_app),
                                 base_url="http://t") as c:
        eventual = await c.get("/prometheus/api/v1/query_range", params=params,
                               headers={"X-Scope-OrgID": "team-a"})
        assert waited == []
        strong = await c.get("/prometheus/api/v1/query_range", params=params,
                             headers={"X-Scope-OrgID": "team-b", "X-Read-Consistency": "strong"})
    assert eventual.status_code == strong.status_code == 200
    assert strong.json() == eventual.json()
    assert waited == ["team-b", "team-b"]  # one wait per split part, under the right tenant
    await fe.close()
