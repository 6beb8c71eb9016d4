"""``/internal/v1/exemplars`` and ``/internal/v1/metadata``: protobuf in and out, errors."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from tidewell.api.internal import internal_meta_routes
from tidewell.ingester import TenantRegistry
from tidewell.model import Exemplar, Labels, Matcher, MatchType, MetricMetadata, MetricType
from tidewell.protocol.pb import ingester_meta_pb2, internal_pb2
from tidewell.querier.meta_wire import (
    decode_exemplars_response,
    decode_metadata_response,
    encode_exemplars_request,
    encode_metadata_request,
)

pytestmark = pytest.mark.anyio

S = Labels.from_dict({"__name__": "m", "job": "j"})


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def client() -> httpx.AsyncClient:
    reg = TenantRegistry(7_200_000)
    t, _ = reg.get_or_create("t1")
    t.exemplars.add(S, [Exemplar(Labels.from_dict({"trace_id": "x"}), float("nan"), 5)])
    t.metadata.add([MetricMetadata("m", MetricType.STATESET, "h ✓", "u")])
    app = Starlette(routes=internal_meta_routes(reg))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_exemplars_round_trip(client: httpx.AsyncClient) -> None:
    body = encode_exemplars_request(0, 10, [[Matcher(MatchType.REGEX, "job", "j|k")]])
    r = await client.post("/internal/v1/exemplars", content=body,
                          headers={"X-Scope-OrgID": "t1"})
    assert r.status_code == 200
    [(labels, [e])] = decode_exemplars_response(r.content)
    assert labels == S and e.timestamp == 5 and e.value != e.value  # NaN kept
    r = await client.post("/internal/v1/exemplars", content=body,
                          headers={"X-Scope-OrgID": "t2"})
    assert decode_exemplars_response(r.content) == []


async def test_metadata_round_trip(client: httpx.AsyncClient) -> None:
    r = await client.post("/internal/v1/metadata", content=encode_metadata_request(-1, -1, ""),
                          headers={"X-Scope-OrgID": "t1"})
    assert decode_metadata_response(r.content) == [
        MetricMetadata("m", MetricType.STATESET, "h ✓", "u")]


async def test_errors(client: httpx.AsyncClient) -> None:
    body = encode_metadata_request(-1, -1, "")
    r = await client.post("/internal/v1/metadata", content=body)
    assert r.status_code == 401
    assert internal_pb2.ErrorResponse.FromString(r.content).message == "no org id"
    r = await client.post("/internal/v1/exemplars", content=b"\xff\xff\xff",
                          headers={"X-Scope-OrgID": "t1"})
    assert r.status_code == 400
    bad = ingester_meta_pb2.ExemplarsRequest(start=0, end=10)
    bad.matcher_sets.add().matchers.add(type=ingester_meta_pb2.Matcher.RE, name="a", value="(")
    r = await client.post("/internal/v1/exemplars", content=bad.SerializeToString(),
                          headers={"X-Scope-OrgID": "t1"})
    assert r.status_code == 400
    assert "bad request" in internal_pb2.ErrorResponse.FromString(r.content).message
