"""Mimir's cardinality API and Prometheus's /status/tsdb over real heads: exact JSON for
data of a known shape, Mimir's parameter rules and limits, tenants kept apart."""

from __future__ import annotations

import time

import httpx
import pytest
from starlette.routing import Mount

from tests.support.ingester import make_batch
from tests.unit.ingester.test_cardinality import shaped
from tidewell.api.cardinality import cardinality_routes
from tidewell.api.server import build_app
from tidewell.api.status_tsdb import status_tsdb_routes
from tidewell.distributor.limits import Limits, Overrides
from tidewell.model import Labels
from tidewell.querier.cardinality import LocalCardinality

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def client() -> httpx.AsyncClient:
    overrides = Overrides(Limits(cardinality_analysis_enabled=True))
    overrides.set_tenant_overrides({
        "off": {"cardinality_analysis_enabled": False},
        "c": {"cardinality_analysis_max_results": 2,
                    "label_values_max_cardinality_label_names_per_request": 1,
                    "label_names_and_values_results_max_size_bytes": 10,
                    "active_series_results_max_size_bytes": 10},
    })
    now = int(time.time() * 1000)  # "active" is judged against the wall clock
    reg = shaped(now)
    c, _ = reg.get_or_create("c")  # small limits
    c.head.append(make_batch([(Labels.from_dict({"__name__": "secret", "job": "x"}), now, 1)]))
    source = LocalCardinality(reg, active_idle_timeout_s=600)
    api = Mount("/prometheus", routes=[*cardinality_routes(source, overrides.for_tenant),
                                       *status_tsdb_routes(source, overrides.for_tenant)])
    app = build_app([api], multitenancy_enabled=True)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def get(client: httpx.AsyncClient, path: str, tenant: str = "a",
              **params: object) -> httpx.Response:
    return await client.get(f"/prometheus/api/v1/{path}", params=params,
                            headers={"X-Scope-OrgID": tenant})


async def test_label_names(client: httpx.AsyncClient) -> None:
    r = await get(client, "cardinality/label_names", limit=2)
    assert r.status_code == 200
    assert r.json() == {
        "label_values_count_total": 11,
        "label_names_count": 4,
        "cardinality": [{"label_name": "method", "label_values_count": 4},
                        {"label_name": "code", "label_values_count": 3}],
    }
    r = await client.post("/prometheus/api/v1/cardinality/label_names",
                          data={"selector": '{__name__="up"}', "count_method": "active"},
                          headers={"X-Scope-OrgID": "a"})
    assert r.json() == {"label_values_count_total": 2, "label_names_count": 2,
                        "cardinality": [{"label_name": "__name__", "label_values_count": 1},
                                        {"label_name": "job", "label_values_count": 1}]}


async def test_label_values(client: httpx.AsyncClient) -> None:
    r = await get(client, "cardinality/label_values", **{
        "label_names[]": ["method", "job"], "selector": '{code="200"}', "limit": 2})
    assert r.status_code == 200
    assert r.json() == {
        "series_count_total": 14,
        "labels": [
            {"label_name": "job", "label_values_count": 1, "series_count": 4,
             "cardinality": [{"label_value": "api", "series_count": 4}]},
            {"label_name": "method", "label_values_count": 4, "series_count": 4,
             "cardinality": [{"label_value": "DELETE", "series_count": 1},
                             {"label_value": "GET", "series_count": 1}]},
        ],
    }
    r = await get(client, "cardinality/label_values", **{"label_names[]": "job",
                                                          "count_method": "active"})
    assert r.json()["series_count_total"] == 13
    assert r.json()["labels"][0]["cardinality"] == [{"label_value": "api", "series_count": 13}]


async def test_active_series(client: httpx.AsyncClient) -> None:
    r = await get(client, "cardinality/active_series", selector="up")
    assert r.json() == {"data": [{"__name__": "up", "job": "api"}]}
    r = await get(client, "cardinality/active_series", selector='{method="GET"}')
    assert [s["code"] for s in r.json()["data"]] == ["200", "404", "500"]


async def test_status_tsdb(client: httpx.AsyncClient) -> None:
    r = await get(client, "status/tsdb", limit=2)
    assert r.status_code == 200
    data = r.json()["data"]
    head = data.pop("headStats")
    assert head["numSeries"] == 14 and head["numLabelPairs"] == 11
    assert head["chunkCount"] == 14 and head["maxTime"] - head["minTime"] == 3_600_000
    assert data == {
        "seriesCountByMetricName": [{"name": "http_requests_total", "value": 12},
                                    {"name": "up", "value": 2}],
        "labelValueCountByLabelName": [{"name": "method", "value": 4},
                                       {"name": "code", "value": 3}],
        "memoryInBytesByLabelName": [{"name": "__name__", "value": 372},
                                     {"name": "method", "value": 144}],
        "seriesCountByLabelValuePair": [{"name": "job=api", "value": 13},
                                        {"name": "__name__=http_requests_total",
                                         "value": 12}],
    }
    assert len((await get(client, "status/tsdb")).json()["data"]["seriesCountByLabelValuePair"]
               ) == 10
    for bad, msg in (("0", "limit must be a positive number"),
                     ("x", "limit must be a positive number"),
                     ("10001", "limit must not exceed 10000")):
        r = await get(client, "status/tsdb", limit=bad)
        assert (r.status_code, r.json()["error"]) == (400, msg)


async def test_tenants_are_apart(client: httpx.AsyncClient) -> None:
    r = await get(client, "cardinality/label_names", tenant="b", selector='{job="x"}')
    assert r.json()["cardinality"] == [{"label_name": "__name__", "label_values_count": 1},
                                       {"label_name": "job", "label_values_count": 1}]
    r = await get(client, "cardinality/active_series", tenant="b", selector='{job=~".+"}')
    assert r.json() == {"data": [{"__name__": "secret", "job": "x"}]}
    r = await get(client, "status/tsdb", tenant="b")
    assert r.json()["data"]["seriesCountByMetricName"] == [{"name": "secret", "value": 1}]
    r = await get(client, "status/tsdb", tenant="nobody")
    assert r.json()["data"]["headStats"]["numSeries"] == 0
    r = await client.get("/prometheus/api/v1/status/tsdb")
    assert r.status_code == 401


async def test_errors_and_limits(client: httpx.AsyncClient) -> None:
    cases = [
        ("off", "cardinality/label_names", {},
         "cardinality analysis is disabled for the tenant: off"),
        ("a", "cardinality/label_names", {"limit": "-1"},
         "'limit' param cannot be less than '0'"),
        ("a", "cardinality/label_names", {"limit": "501"},
         "'limit' param cannot be greater than '500'"),
        ("c", "cardinality/label_names", {"limit": "3"},
         "'limit' param cannot be greater than '2'"),
        ("a", "cardinality/label_names", {"count_method": "x"},
         "invalid 'count_method' param 'x'. valid options are: [active,inmemory]"),
        ("a", "cardinality/label_names", {"selector": "up +"}, "failed to parse selector"),
        ("a", "cardinality/label_names", {"selector": ["up", "up"]},
         "multiple 'selector' params are not allowed"),
        ("a", "cardinality/label_values", {}, "'label_names[]' param is required"),
        ("c", "cardinality/label_values", {"label_names[]": ["a", "b"]},
         "label values cardinality request label names limit (limit: 1 actual: 2) exceeded"),
        ("a", "cardinality/active_series", {}, "missing 'selector' parameter"),
        ("a", "cardinality/active_series", {"selector": "rate(up[1m])"},
         "failed to parse selector"),
    ]
    for tenant, path, params, msg in cases:
        r = await get(client, path, tenant, **params)
        assert r.status_code == 400, (path, params, r.text)
        assert r.text.startswith(msg), (path, params, r.text)
    r = await get(client, "cardinality/label_names", "c", limit=1)
    assert r.status_code == 413 and "greater than 10 bytes" in r.text
    r = await get(client, "status/tsdb", "c")
    assert r.status_code == 422 and r.json()["errorType"] == "execution"
    assert "label-names-and-values-results-max-size-bytes" in r.json()["error"]
    r = await get(client, "cardinality/active_series", "c", selector="secret")
    assert r.status_code == 413 and "active-series-results-max-size-bytes" in r.text


def test_memory_counts_utf8_bytes_and_length_prefixes() -> None:
    from tidewell.api.status_tsdb import tsdb_status
    from tidewell.ingester.cardinality import LabelStats

    st = LabelStats(5, {"job": {"✓é": 3, "x" * 200: 2}, "k": {"a\x00b": 1}})
    # job: 1+3 bytes; "✓é" 5 bytes + 1 prefix; 200 bytes + 2 prefix (a value with NUL too).
    assert tsdb_status(st, 10)["memoryInBytesByLabelName"] == [
        {"name": "job", "value": (4 + 6) * 3 + (4 + 202) * 2}, {"name": "k", "value": 2 + 4}]
