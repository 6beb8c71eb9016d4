"""Mimir's server metrics: route names from templates, status, body sizes, requests in flight."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from tests.support.metrics import metric_value
from tidewell.api.instrument import (
    INFLIGHT,
    REQUEST_BYTES,
    REQUEST_DURATION,
    RESPONSE_BYTES,
    InstrumentMiddleware,
    make_label_value,
    route_label,
)

pytestmark = pytest.mark.anyio
RELEASE = "release"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def echo(request: Request) -> PlainTextResponse:
    return PlainTextResponse("x" * len(await request.body()))


async def held(request: Request) -> Response:
    await getattr(request.app.state, RELEASE).wait()
    return Response(status_code=204)


async def boom(_: Request) -> Response:
    raise RuntimeError("boom")


ROUTES = [
    Route("/api/v1/push", echo, methods=["POST"]),
    Route("/held", held),
    Route("/boom", boom),
    Mount("/prometheus", routes=[Route("/api/v1/label/{name}/values", echo)]),
    Route("/fe/api/v1/{rest:path}", echo),
]


@pytest.mark.parametrize(("path", "label"), [
    ("/api/v1/push", "api_v1_push"),
    ("/prometheus/api/v1/label/job/values", "prometheus_api_v1_label_name_values"),
    ("/prometheus/api/v1/label/other-name/values", "prometheus_api_v1_label_name_values"),
    ("/fe/api/v1/query_range", "fe_api_v1_query_range"),
    ("/fe/api/v1/label/job/values", "fe_api_v1_label_name_values"),
    ("/fe/api/v1/status/buildinfo", "fe_api_v1_status_buildinfo"),
    ("/fe/api/v1/no-such-endpoint", "other"),  # a raw path never becomes a label value
    ("/nowhere", "other"),
    ("/prometheus/nowhere", "other"),
])
def test_route_label_is_the_template_as_dskit_writes_it(path: str, label: str) -> None:
    assert route_label(ROUTES, path) == label


def test_make_label_value() -> None:
    assert make_label_value("/prometheus/api/v1/label/{name}/values") == \
        "prometheus_api_v1_label_name_values"
    assert make_label_value("/") == "root"
    assert make_label_value("/Ingester/Flush") == "ingester_flush"


def client(release: asyncio.Event | None = None) -> httpx.AsyncClient:
    inner = Starlette(routes=ROUTES)
    setattr(inner.state, RELEASE, release)
    app = InstrumentMiddleware(inner, ROUTES)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                             base_url="http://t")


async def test_duration_status_and_sizes_are_observed_per_route() -> None:
    before = metric_value(REQUEST_DURATION, method="POST", route="api_v1_push",
                          status_code="200", ws="false")
    sizes = metric_value(REQUEST_BYTES, method="POST", route="api_v1_push")
    async with client() as c:
        r = await c.post("/api/v1/push", content=b"12345")
        assert r.text == "xxxxx"
        assert (await c.get("/nowhere")).status_code == 404
        assert (await c.get("/boom")).status_code == 500
    count = [s for f in REQUEST_DURATION.collect() for s in f.samples
             if s.name == "cortex_request_duration_seconds_count"]
    by = {(s.labels["route"], s.labels["status_code"]): s.value for s in count
          if s.labels["method"] in ("POST", "GET")}
    assert by[("api_v1_push", "200")] == before + 1
    assert by[("other", "404")] >= 1
    assert by[("boom", "500")] >= 1
    sums = {s.name: s.value for f in (*REQUEST_BYTES.collect(), *RESPONSE_BYTES.collect())
            for s in f.samples if s.labels == {"method": "POST", "route": "api_v1_push"}}
    assert sums["cortex_request_message_bytes_sum"] == sizes + 5
    assert sums["cortex_response_message_bytes_sum"] >= 5


async def test_requests_in_flight_are_counted_until_they_end() -> None:
    release = asyncio.Event()
    async with client(release) as c:
        task = asyncio.create_task(c.get("/held"))
        for _ in range(200):
            if metric_value(INFLIGHT, method="GET", route="held") == 1:
                break
            await asyncio.sleep(0.01)
        assert metric_value(INFLIGHT, method="GET", route="held") == 1
        release.set()
        assert (await task).status_code == 204
    assert metric_value(INFLIGHT, method="GET", route="held") == 0
