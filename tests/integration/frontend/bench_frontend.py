"""Frontend latency against the query API called directly, on the integration dataset.

Run: ``python tests/integration/frontend/bench_frontend.py`` (best of 5, milliseconds).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from tests.integration.frontend.conftest import DAY_MS, T0, DictQueryable
from tidewell.api.prometheus import query_routes
from tidewell.frontend import (
    FrontendConfig,
    InMemoryCache,
    QueryFrontend,
    asgi_downstream,
)
from tidewell.querier.config import QuerierConfig

QUERIES = ["rate(http_requests_total[5m])", "sum by (job) (rate(http_requests_total[5m]))"]


async def timed(app: Starlette, params: dict[str, object]) -> float:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as c:
        started = time.perf_counter()
        r = await c.get("/prometheus/api/v1/query_range", params=params)
        elapsed = time.perf_counter() - started
    assert r.status_code == 200, r.text
    return elapsed * 1000


async def main() -> None:
    api = Starlette(routes=[Mount("/prometheus",
                                  routes=query_routes(DictQueryable(), QuerierConfig()))])
    for q in QUERIES:
        params = {"query": q, "start": T0 / 1000, "end": (T0 + 3 * DAY_MS) / 1000, "step": 60}
        direct = [await timed(api, params) for _ in range(5)]
        cold, warm = [], []
        for _ in range(5):
            fe = QueryFrontend(FrontendConfig(), asgi_downstream(api),
                               cache=InMemoryCache(256 << 20))
            app = Starlette(routes=fe.routes())
            cold.append(await timed(app, params))
            warm.append(await timed(app, params))
            await fe.close()
        print(f"{q}: direct {min(direct):.1f} ms, frontend split+store {min(cold):.1f} ms, "
              f"frontend cached {min(warm):.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
