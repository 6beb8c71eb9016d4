"""``stats`` through the frontend: split parts' statistics add up, nothing is cached."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from tests.support.memory import DictQuerier
from tidewell.api.prometheus.routes import query_routes
from tidewell.frontend import FrontendConfig, HTTPDownstream, QueryFrontend, QueryRequest
from tidewell.frontend.request import RANGE
from tidewell.model import Labels
from tidewell.querier.config import QuerierConfig

pytestmark = pytest.mark.anyio
H = 3_600_000


class Store:
    def __init__(self) -> None:
        ts = np.arange(0, 48 * H + 1, 60_000, dtype=np.int64)
        self.data = {Labels([("__name__", "m"), ("i", str(i))]): (ts, ts / 1000.0)
                     for i in range(3)}

    def querier(self, tenant: str, mint: int, maxt: int) -> DictQuerier:
        return DictQuerier(self.data, mint, maxt)


async def test_split_parts_statistics_are_merged() -> None:
    app = Starlette(routes=[Mount("/prometheus", routes=query_routes(Store(),
                                                                     QuerierConfig()))])
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
                               base_url="http://querier", timeout=None)
    fe = QueryFrontend(FrontendConfig(split_queries_by_interval=86_400.0),
                       HTTPDownstream(client), now=lambda: 1e10)
    try:
        req = QueryRequest(RANGE, "t", "sum(m)", 20 * H, 28 * H, H, params=(("stats", "all"),))
        for _ in range(2):  # the second time, nothing may come from the results cache
            doc = (await fe.do(req)).json()
            samples = doc["data"]["stats"]["samples"]
            # 9 steps over two days (split at midnight), 3 series each
            assert samples["totalQueryableSamplesPerStep"] == [
                [t // 1000, 3] for t in range(20 * H, 28 * H + 1, H)]
            assert samples["totalQueryableSamples"] == 27
            assert doc["data"]["stats"]["timings"]["evalTotalTime"] > 0
    finally:
        await fe.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_limit_holds_for_the_split_answer() -> None:
    store = Store()
    ts = np.arange(20 * H, 28 * H + 1, 60_000, dtype=np.int64)
    first, second = ts < 24 * H, ts >= 24 * H  # the two split parts hold different series
    store.data = {Labels([("__name__", "m"), ("i", str(i))]):
                  (ts[first if i % 2 else second], ts[first if i % 2 else second] / 1e3)
                  for i in range(12)}
    app = Starlette(routes=[Mount("/prometheus", routes=query_routes(store, QuerierConfig()))])
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
                               base_url="http://querier", timeout=None)
    fe = QueryFrontend(FrontendConfig(split_queries_by_interval=86_400.0),
                       HTTPDownstream(client), now=lambda: 1e10)
    try:
        for limit in ("4", "", "4"):  # nothing cached under the limited query
            req = QueryRequest(RANGE, "t", "m", 20 * H, 28 * H, H,
                               params=(("limit", limit),) if limit else ())
            doc = (await fe.do(req)).json()
            want = sorted(str(i) for i in range(12))[:int(limit or 12)]
            assert [s["metric"]["i"] for s in doc["data"]["result"]] == want
            assert ("warnings" in doc) == bool(limit)
    finally:
        await fe.close()
