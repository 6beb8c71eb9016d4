"""Queries run on bounded deep-stack workers: deep expressions evaluate, limits answer with
Mimir's and Prometheus's status codes, and no more than ``-querier.max-concurrent`` run."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from tidewell.api.prometheus import query_routes
from tidewell.api.prometheus.workers import QueryWorkers
from tidewell.promql.budget import QueryLimits
from tidewell.querier.config import QuerierConfig

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _client(store: object, cfg: QuerierConfig,
            limits: QueryLimits | None = None) -> httpx.AsyncClient:
    routes = query_routes(store, cfg, tenant_limits=None if limits is None else lambda t: limits)  # type: ignore[arg-type]
    app = Starlette(routes=[Mount("/prometheus", routes=routes)])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def _value(c: httpx.AsyncClient, query: str) -> httpx.Response:
    return await c.post("/prometheus/api/v1/query", data={"query": query, "time": "300"})


@pytest.mark.parametrize(("query", "want"), [
    ("(" * 320 + "sum(up)" + ")" * 320, "1"),
    (" + ".join(["sum(up)"] * 497), "497"),
    ("(" * 2000 + "sum(up)" + ")" * 2000, "1"),
    (" + ".join(["sum(up)"] * 1000), "1000"),
])
async def test_deep_expressions_prometheus_accepts_evaluate(store: object, query: str,
                                                            want: str) -> None:
    async with _client(store, QuerierConfig()) as c:
        r = await _value(c, query)
        assert r.status_code == 200, r.text
        assert r.json()["data"]["result"] == [{"metric": {}, "value": [300, want]}]
        r = await c.post("/prometheus/api/v1/format_query", data={"query": query})
        assert r.status_code == 200


async def test_nesting_beyond_the_limit_is_a_clear_400(store: object) -> None:
    async with _client(store, QuerierConfig()) as c:
        r = await _value(c, "(" * 20_000 + "up" + ")" * 20_000)
        assert r.status_code == 400
        assert r.json()["errorType"] == "bad_data"
        assert r.json()["error"] == ('invalid parameter "query": 1:1: parse error: query is '
                                     "too deeply nested")


async def test_limits_through_the_api(store: object) -> None:
    limits = QueryLimits(max_memory_bytes=10_000, max_query_length_ms=3_600_000,
                         max_fetched_series=2, max_fetched_chunk_bytes=50_000)
    async with _client(store, QuerierConfig(), limits) as c:
        r = await c.get("/prometheus/api/v1/query_range",
                        params={"query": "up", "start": "0", "end": "600", "step": "1"})
        assert r.status_code == 422 and r.json()["errorType"] == "execution"
        assert "(err-mimir-max-estimated-memory-consumption-per-query)" in r.json()["error"]
        r = await _value(c, "count_over_time(up[2h])")
        assert r.status_code == 422
        assert r.json()["error"].startswith(
            "the query time range exceeds the limit (query length: 2h0m0s, limit: 1h0m0s) "
            "(err-mimir-max-query-length)")
        r = await _value(c, "up + ignoring(instance) group_left reqs_total")
        assert r.status_code == 422
        assert "(err-mimir-max-series-per-query)" in r.json()["error"]
        r = await _value(c, "sum(up)")
        assert r.status_code == 200


async def test_no_more_than_max_concurrent_queries_run() -> None:
    workers = QueryWorkers(2)
    running, peak, lock = 0, 0, threading.Lock()

    def job() -> str:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.1)
        with lock:
            running -= 1
        return threading.current_thread().name

    names = await asyncio.gather(*(workers.run(job) for _ in range(6)))
    assert peak == 2
    assert set(names) <= {"query-worker-0", "query-worker-1"}
    workers.close()


async def test_a_caller_gone_before_its_turn_never_runs() -> None:
    workers = QueryWorkers(1)
    gate = threading.Event()
    ran: list[int] = []
    first = asyncio.ensure_future(workers.run(gate.wait))
    waiting = asyncio.ensure_future(workers.run(lambda: ran.append(1)))
    await asyncio.sleep(0.05)
    waiting.cancel()
    await asyncio.sleep(0.05)  # the loop hands the cancel on to the queued job
    gate.set()
    assert await first is True
    await asyncio.sleep(0.05)
    assert ran == []
    workers.close()


async def test_tenant_limits_override_the_flags(store: object) -> None:
    from tidewell.promql.budget import QueryLimits

    seen: list[str] = []

    def limits(tenant: str) -> QueryLimits:
        seen.append(tenant)
        return QueryLimits(max_fetched_series=1)

    app = Starlette(routes=[Mount("/prometheus", routes=query_routes(
        store, QuerierConfig(), tenant_limits=limits))])  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as c:
        r = await _value(c, "sum(up)")
        assert r.status_code == 422
        assert "(limit: 1 series) (err-mimir-max-series-per-query)" in r.json()["error"]
        assert (await _value(c, "sum(reqs_total)")).status_code == 200
    assert seen == ["anonymous", "anonymous"]


async def test_timeout_counts_the_wait_for_a_worker() -> None:
    """With one worker busy past the timeout, a queued query times out "in query queue"."""
    import numpy as np

    from tests.support.memory import DictQuerier
    from tidewell.model import Labels

    class Slow:
        def querier(self, tenant: str, mint: int, maxt: int) -> DictQuerier:
            ts = np.array([0], dtype=np.int64)
            return DictQuerier({Labels([("__name__", "up")]): (ts, np.ones(1))}, mint, maxt,
                               delay_s=0.6)

    async with _client(Slow(), QuerierConfig(max_concurrent=1, timeout=0.4)) as c:
        first, second = await asyncio.gather(_value(c, "up"), _value(c, "up"))
    assert first.status_code == 503
    assert first.json()["error"] == "query timed out in expression evaluation"
    assert second.status_code == 503
    assert second.json()["error"] == "query timed out in query queue"
