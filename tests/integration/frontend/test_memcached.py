"""The results cache on a real memcached server."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from tidewell.frontend import FrontendConfig, MemcachedCache, QueryFrontend, asgi_downstream
from tidewell.frontend.config import MemcachedConfig, ResultsCacheConfig
from tidewell.frontend.frontend import new_results_cache

from .conftest import DAY_MS, T0, free_port, memcached_stats
from .test_query_api import Counting


@pytest.mark.anyio
async def test_client_roundtrip_and_misses(memcached):
    c = MemcachedCache([memcached], timeout=2.0)
    assert await c.get("fe:missing") is None
    payload = bytes(range(256)) * 1000 + b"\r\nEND\r\n"  # binary-safe, protocol-like bytes
    await c.set("fe:k1", payload, 60)
    await c.set("fe:k2", b"", 0)
    assert await c.get("fe:k1") == payload
    assert await c.get("fe:k2") == b""
    too_big = MemcachedCache([memcached], max_item_size=10)
    await too_big.set("fe:k3", b"x" * 11, 60)
    assert await c.get("fe:k3") is None
    assert int(memcached_stats(memcached)["get_hits"]) == 2
    await c.close()
    await too_big.close()


@pytest.mark.anyio
async def test_unreachable_memcached_is_a_miss_not_an_error():
    c = MemcachedCache([f"127.0.0.1:{free_port()}"], timeout=0.5)
    await c.set("fe:k", b"v", 60)
    assert await c.get("fe:k") is None
    await c.close()


@pytest.mark.anyio
async def test_cached_result_is_served_from_memcached(memcached, query_api):
    cfg = FrontendConfig(results_cache=ResultsCacheConfig(
        backend="memcached", memcached=MemcachedConfig(addresses=[memcached], timeout=2.0)))
    cfg.validate()
    params = {"query": "sum by (job) (rate(http_requests_total[5m]))",
              "start": str(T0 / 1000), "end": str((T0 + 2 * DAY_MS) / 1000), "step": "120"}

    async def run() -> tuple[httpx.Response, int]:
        # a fresh frontend each time: nothing shared but the memcached server
        counting = Counting(query_api)
        cache = new_results_cache(cfg)
        assert isinstance(cache, MemcachedCache)
        fe = QueryFrontend(cfg, asgi_downstream(counting), cache=cache)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(
                app=Starlette(routes=fe.routes())), base_url="http://t") as client:
            r = await client.get("/prometheus/api/v1/query_range", params=params)
        await fe.close()
        return r, counting.range_queries

    first, queried = await run()
    assert first.status_code == 200 and first.json()["data"]["result"]
    assert queried == 2
    stats = memcached_stats(memcached)
    assert int(stats["curr_items"]) == 2 and int(stats["get_hits"]) == 0
    second, queried = await run()
    assert queried == 0  # the querier was not asked: both days came from memcached
    assert second.json() == first.json()
    assert int(memcached_stats(memcached)["get_hits"]) == 2
