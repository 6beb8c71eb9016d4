"""The results cache on a real memcached server."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import xxhash
from starlette.applications import Starlette

from tidewell.frontend import FrontendConfig, MemcachedCache, QueryFrontend, asgi_downstream
from tidewell.frontend.config import MemcachedConfig, ResultsCacheConfig
from tidewell.frontend.frontend import new_results_cache
from tidewell.frontend.memcached import jump_hash, natural_order

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


async def _holders(servers: list[str], keys: list[str]) -> dict[str, str]:
    """Which server really holds each key, asked of each server alone."""
    found: dict[str, str] = {}
    for address in servers:
        one = MemcachedCache([address], timeout=2.0)
        for k in keys:
            if await one.get(k) is not None:
                assert k not in found, f"{k} stored twice"
                found[k] = address
        await one.close()
    return found


@pytest.mark.anyio
async def test_keys_land_where_the_jump_hash_says(memcached_trio):
    keys = [f"fe:placement:{i}" for i in range(600)]
    c = MemcachedCache(list(reversed(memcached_trio)), timeout=2.0)
    for k in keys:
        await c.set(k, k.encode(), 60)
    holders = await _holders(memcached_trio, keys)
    assert len(holders) == len(keys)
    ordered = natural_order(memcached_trio)
    for k in keys:
        assert holders[k] == ordered[jump_hash(xxhash.xxh64_intdigest(k.encode()), 3)]
    per_server = [sum(1 for a in holders.values() if a == s) for s in ordered]
    assert all(150 < n < 250 for n in per_server), per_server

    # Dropping the last server: only its keys move; every other key still hits.
    two = MemcachedCache(ordered[:2], timeout=2.0)
    hits = [k for k in keys if await two.get(k) is not None]
    assert set(hits) == {k for k in keys if holders[k] != ordered[2]}
    assert 0.25 < 1 - len(hits) / len(keys) < 0.42  # about 1/3 moved
    await c.close()
    await two.close()


@pytest.mark.anyio
async def test_open_connections_per_server_are_capped(memcached):
    before = int(memcached_stats(memcached)["total_connections"])
    c = MemcachedCache([memcached], timeout=5.0, max_idle_connections=3)
    await c.set("fe:cap", b"v" * 1000, 60)
    results = await asyncio.gather(*(c.get("fe:cap") for _ in range(200)))
    assert results == [b"v" * 1000] * 200
    stats = memcached_stats(memcached)
    # 3 client connections (+1: this test's second stats connection), and room for one
    # replaced on a loaded machine; without the cap the 200 gets open about 200
    assert int(stats["total_connections"]) - before <= 2 * 3
    await c.close()
