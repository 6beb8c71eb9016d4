"""``/api/v1/query_exemplars`` and ``/api/v1/metadata`` through the real ASGI app,
answered from an ingester's per-tenant stores (``TenantRegistry``)."""

from __future__ import annotations

import httpx
import pytest
from starlette.routing import Mount

from tests.unit.api.conftest import FakeQueryable
from tidewell.api.prometheus import query_routes
from tidewell.api.server import build_app
from tidewell.ingester import StaticLimits, TenantRegistry
from tidewell.ingester.limits import LocalLimits
from tidewell.model import Exemplar, Labels, MetricMetadata, MetricType
from tidewell.querier.config import QuerierConfig

pytestmark = pytest.mark.anyio

REQS = Labels.from_dict({"__name__": "http_requests_total", "job": "api", "code": "200"})
REQS_500 = Labels.from_dict({"__name__": "http_requests_total", "job": "api", "code": "500"})
LAT = Labels.from_dict({"__name__": "latency_seconds_bucket", "job": "db", "le": "0.5"})


def trace(tid: str) -> Labels:
    return Labels.from_dict({"trace_id": tid})


@pytest.fixture
def registry() -> TenantRegistry:
    reg = TenantRegistry(7_200_000, LocalLimits(StaticLimits(), lambda: 1))
    t1, _ = reg.get_or_create("team-a")
    t1.exemplars.add(REQS, [Exemplar(trace("a1"), 1.0, 1_600_000_000_000),
                            Exemplar(trace("a2"), 2.5, 1_600_000_001_500)])
    t1.exemplars.add(REQS_500, [Exemplar(trace("a3"), 7.0, 1_600_000_002_000)])
    t1.exemplars.add(LAT, [Exemplar(trace("l1"), 0.25, 1_600_000_000_000)])
    t1.metadata.add([
        MetricMetadata("http_requests_total", MetricType.COUNTER, "Requests served.", ""),
        MetricMetadata("latency_seconds", MetricType.HISTOGRAM, "Latency.", "seconds"),
        MetricMetadata("latency_seconds", MetricType.HISTOGRAM, "Latency (v2).", "seconds"),
    ])
    t2, _ = reg.get_or_create("team-b")
    t2.exemplars.add(REQS, [Exemplar(trace("b1"), 9.0, 1_600_000_000_000)])
    t2.metadata.add([MetricMetadata("team_b_only", MetricType.GAUGE, "B's.", "")])
    return reg


@pytest.fixture
def client(registry: TenantRegistry) -> httpx.AsyncClient:
    api = Mount("/prometheus", routes=query_routes(FakeQueryable(), QuerierConfig(), registry))
    app = build_app([api], multitenancy_enabled=True)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


A = {"X-Scope-OrgID": "team-a"}
B = {"X-Scope-OrgID": "team-b"}


async def test_query_exemplars_prometheus_json(client: httpx.AsyncClient) -> None:
    r = await client.get("/prometheus/api/v1/query_exemplars", headers=A, params={
        "query": 'sum(rate(http_requests_total{job="api"}[5m]))',
        "start": "1600000000", "end": "1600000010"})
    assert r.status_code == 200
    assert r.json() == {"status": "success", "data": [
        {"seriesLabels": {"__name__": "http_requests_total", "code": "200", "job": "api"},
         "exemplars": [
             {"labels": {"trace_id": "a1"}, "value": "1", "timestamp": 1600000000},
             {"labels": {"trace_id": "a2"}, "value": "2.5", "timestamp": 1600000001.5}]},
        {"seriesLabels": {"__name__": "http_requests_total", "code": "500", "job": "api"},
         "exemplars": [{"labels": {"trace_id": "a3"}, "value": "7",
                        "timestamp": 1600000002}]},
    ]}


async def test_query_exemplars_selectors_are_ored_and_range_applies(
        client: httpx.AsyncClient) -> None:
    r = await client.post("/prometheus/api/v1/query_exemplars", headers=A, data={
        "query": 'http_requests_total{code="500"} / on() latency_seconds_bucket',
        "start": "1600000000", "end": "1600000002"})
    got = {(e["seriesLabels"]["__name__"], x["labels"]["trace_id"])
           for e in r.json()["data"] for x in e["exemplars"]}
    assert got == {("http_requests_total", "a3"), ("latency_seconds_bucket", "l1")}
    r = await client.get("/prometheus/api/v1/query_exemplars", headers=A, params={
        "query": "http_requests_total", "start": "1600000001", "end": "1600000001.5"})
    assert [x["labels"]["trace_id"] for x in r.json()["data"][0]["exemplars"]] == ["a2"]


async def test_query_exemplars_is_per_tenant(client: httpx.AsyncClient) -> None:
    r = await client.get("/prometheus/api/v1/query_exemplars", headers=B,
                         params={"query": "http_requests_total"})
    assert [[x["labels"]["trace_id"] for x in s["exemplars"]] for s in r.json()["data"]] == [
        ["b1"]]
    r = await client.get("/prometheus/api/v1/query_exemplars",
                         headers={"X-Scope-OrgID": "nobody"},
                         params={"query": "http_requests_total"})
    assert r.json()["data"] == []
    r = await client.get("/prometheus/api/v1/query_exemplars",
                         params={"query": "http_requests_total"})
    assert r.status_code == 401  # multi-tenancy on: no tenant, no answer


async def test_query_exemplars_errors_and_no_selector(client: httpx.AsyncClient) -> None:
    r = await client.get("/prometheus/api/v1/query_exemplars", headers=A,
                         params={"query": "1 + 2"})
    assert r.json() == {"status": "success", "data": None}
    r = await client.get("/prometheus/api/v1/query_exemplars", headers=A,
                         params={"query": "up{", "start": "0"})
    assert r.status_code == 400 and r.json()["errorType"] == "bad_data"
    r = await client.get("/prometheus/api/v1/query_exemplars", headers=A,
                         params={"query": "up", "start": "10", "end": "5"})
    assert r.status_code == 400
    assert r.json()["error"] == "end timestamp must not be before start timestamp"
    r = await client.get("/prometheus/api/v1/query_exemplars", headers=A,
                         params={"query": "up", "start": "yesterday"})
    assert r.status_code == 400 and 'invalid parameter "start"' in r.json()["error"]


async def test_metadata_prometheus_json_and_limits(client: httpx.AsyncClient) -> None:
    r = await client.get("/prometheus/api/v1/metadata", headers=A)
    assert r.json() == {"status": "success", "data": {
        "http_requests_total": [{"type": "counter", "help": "Requests served.", "unit": ""}],
        "latency_seconds": [
            {"type": "histogram", "help": "Latency (v2).", "unit": "seconds"},
            {"type": "histogram", "help": "Latency.", "unit": "seconds"}],
    }}
    r = await client.get("/prometheus/api/v1/metadata", headers=A, params={"limit": "1"})
    assert list(r.json()["data"]) == ["http_requests_total"]
    r = await client.get("/prometheus/api/v1/metadata", headers=A,
                         params={"limit_per_metric": "1", "metric": "latency_seconds"})
    assert r.json()["data"] == {"latency_seconds": [
        {"type": "histogram", "help": "Latency (v2).", "unit": "seconds"}]}
    r = await client.get("/prometheus/api/v1/metadata", headers=A, params={"metric": "nope"})
    assert r.json()["data"] == {}
    r = await client.get("/prometheus/api/v1/metadata", headers=A, params={"limit": "x"})
    assert r.status_code == 400 and r.json()["error"] == "limit must be a number"
    r = await client.get("/prometheus/api/v1/metadata", headers=A,
                         params={"limit_per_metric": "1.5"})
    assert r.status_code == 400 and r.json()["error"] == "limit_per_metric must be a number"


async def test_metadata_is_per_tenant(client: httpx.AsyncClient) -> None:
    r = await client.get("/prometheus/api/v1/metadata", headers=B)
    assert r.json()["data"] == {"team_b_only": [{"type": "gauge", "help": "B's.", "unit": ""}]}
