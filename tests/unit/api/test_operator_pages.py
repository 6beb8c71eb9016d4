"""``/runtime_config`` (per tenant, diff, defaults), the index page built from the
process's routes, and the one-instance ring of a single process."""

from __future__ import annotations

import httpx
import pytest
import yaml
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from tidewell.api.index_page import index_routes
from tidewell.api.local_rings import LocalInstanceRing
from tidewell.api.runtime_config import runtime_config_routes
from tidewell.distributor.limits import Limits, Overrides
from tidewell.ring.status import ring_status_routes

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def client(routes: list) -> httpx.AsyncClient:  # type: ignore[type-arg]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=Starlette(routes=routes)),
                             base_url="http://t")


async def test_runtime_config() -> None:
    overrides = Overrides(Limits(ingestion_rate=500.0))
    overrides.set_tenant_overrides({"big": {"ingestion_rate": 9000,
                                            "cardinality_analysis_enabled": True}})
    async with client(runtime_config_routes(overrides)) as c:
        doc = yaml.safe_load((await c.get("/runtime_config", params={"mode": "diff"})).text)
        assert doc == {"overrides": {"big": {"ingestion_rate": 9000.0,
                                             "cardinality_analysis_enabled": True}}}
        full = (await c.get("/runtime_config", params={"format": "json"})).json()
        assert full["overrides"]["big"]["max_global_series_per_user"] == 150000
        one = (await c.get("/runtime_config", params={"tenant": "other"},
                           headers={"Accept": "application/json"})).json()
        assert one["tenant"] == "other" and one["limits"]["ingestion_rate"] == 500.0
        defaults = yaml.safe_load((await c.get("/runtime_config",
                                               params={"mode": "defaults"})).text)
        assert defaults["ingestion_rate"] == 500.0 and "overrides" not in defaults


async def test_index_lists_only_what_the_process_serves() -> None:
    async def ok(_):  # type: ignore[no-untyped-def]
        return httpx.Response(200)

    served = [Route("/services", ok), Route("/ingester/ring", ok),
              Mount("/ui", routes=[Route("/x", ok)])]
    async with client(index_routes(served)) as c:
        page = (await c.get("/")).text
    assert "href='/services'" in page and "href='/ingester/ring'" in page
    assert "href='/ui/'" in page
    assert "/store-gateway/ring" not in page and "/compactor/ring" not in page


async def test_single_process_ring_of_one() -> None:
    running = [False]
    ring = LocalInstanceRing("ingester", "host-0", "10.0.0.1:8080", "zone-a",
                             lambda: running[0])
    async with client(ring_status_routes(ingester_ring=ring)) as c:
        doc = (await c.get("/ingester/ring", params={"format": "json"})).json()
        assert [(s["id"], s["state"], s["zone"]) for s in doc["shards"]] == [
            ("host-0", "PENDING", "zone-a")]
        running[0] = True
        doc = (await c.get("/ingester/ring", params={"format": "json"})).json()
        assert doc["shards"][0]["state"] == "ACTIVE"
        assert doc["shards"][0]["address"] == "10.0.0.1:8080"
