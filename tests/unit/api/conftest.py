"""An in-memory ``Queryable`` and an ASGI client for the query API tests."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from tests.support.memory import DictQuerier
from tidewell.api.prometheus import query_routes
from tidewell.model import Labels
from tidewell.querier.config import QuerierConfig


class FakeQueryable:
    def __init__(self) -> None:
        self.data: dict[Labels, tuple[np.ndarray, np.ndarray]] = {}
        self.tenants: list[str] = []

    def add(self, labels: dict[str, str], ts: list[int], vals: list[float]) -> None:
        self.data[Labels.from_dict(labels)] = (np.array(ts, dtype=np.int64),
                                               np.array(vals, dtype=np.float64))

    def querier(self, tenant: str, mint: int, maxt: int) -> DictQuerier:
        self.tenants.append(tenant)
        return DictQuerier(self.data, mint, maxt)


@pytest.fixture
def store() -> FakeQueryable:
    q = FakeQueryable()
    ts = list(range(0, 600_001, 15_000))
    q.add({"__name__": "up", "job": "api", "instance": "a"}, ts, [1.0] * len(ts))
    q.add({"__name__": "up", "job": "api", "instance": "b"}, ts, [0.0] * len(ts))
    q.add({"__name__": "reqs_total", "job": "api"}, ts, [float(i) for i in range(len(ts))])
    return q


@pytest.fixture
def client(store: FakeQueryable) -> httpx.AsyncClient:
    app = Starlette(routes=[Mount("/prometheus", routes=query_routes(store, QuerierConfig()))])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
