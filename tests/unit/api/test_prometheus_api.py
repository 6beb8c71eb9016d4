"""Response shapes and error types of the Prometheus query API."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_instant_vector_shape(client: httpx.AsyncClient) -> None:
    r = await client.get("/prometheus/api/v1/query", params={"query": "up", "time": "300"})
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "success"
    assert body["data"]["resultType"] == "vector"
    result = sorted(body["data"]["result"], key=lambda s: s["metric"]["instance"])
    assert result[0] == {"metric": {"__name__": "up", "instance": "a", "job": "api"},
                         "value": [300, "1"]}
    assert "warnings" not in body


async def test_post_form_and_rfc3339(client: httpx.AsyncClient) -> None:
    r = await client.post("/prometheus/api/v1/query",
                          data={"query": "sum(up)", "time": "1970-01-01T00:05:00Z"})
    assert r.json()["data"]["result"] == [{"metric": {}, "value": [300, "1"]}]


async def test_scalar_and_string(client: httpx.AsyncClient) -> None:
    r = await client.get("/prometheus/api/v1/query", params={"query": "1.5", "time": "10.5"})
    assert r.json()["data"] == {"resultType": "scalar", "result": [10.5, "1.5"]}
    r = await client.get("/prometheus/api/v1/query", params={"query": '"x"', "time": "1"})
    assert r.json()["data"] == {"resultType": "string", "result": [1, "x"]}


async def test_range_matrix_shape(client: httpx.AsyncClient) -> None:
    r = await client.get("/prometheus/api/v1/query_range",
                         params={"query": "rate(reqs_total[1m])", "start": "60", "end": "120",
                                 "step": "30s"})
    data = r.json()["data"]
    assert data["resultType"] == "matrix"
    (series,) = data["result"]
    assert series["metric"] == {"job": "api"}
    assert [p[0] for p in series["values"]] == [60, 90, 120]
    assert float(series["values"][0][1]) == pytest.approx(1 / 15)


async def test_syntax_error_is_bad_data_with_position(client: httpx.AsyncClient) -> None:
    r = await client.get("/prometheus/api/v1/query", params={"query": "sum(up", "time": "1"})
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == "error" and body["errorType"] == "bad_data"
    assert body["error"].startswith('invalid parameter "query": 1:7: parse error:')


async def test_wrong_type_is_bad_data(client: httpx.AsyncClient) -> None:
    r = await client.get("/prometheus/api/v1/query", params={"query": "rate(up)", "time": "1"})
    assert r.status_code == 400
    assert "expected type range vector" in r.json()["error"]


async def test_too_many_points(client: httpx.AsyncClient) -> None:
    r = await client.get("/prometheus/api/v1/query_range",
                         params={"query": "up", "start": "0", "end": "11001", "step": "1"})
    assert r.status_code == 400
    assert r.json()["errorType"] == "bad_data"
    assert "exceeded maximum resolution of 11,000 points" in r.json()["error"]


async def test_bad_step_and_times(client: httpx.AsyncClient) -> None:
    r = await client.get("/prometheus/api/v1/query_range",
                         params={"query": "up", "start": "10", "end": "0", "step": "1"})
    assert r.status_code == 400 and "end timestamp must not be before start" in r.json()["error"]
    r = await client.get("/prometheus/api/v1/query_range",
                         params={"query": "up", "start": "0", "end": "10", "step": "0"})
    assert r.status_code == 400 and "zero or negative" in r.json()["error"]
    r = await client.get("/prometheus/api/v1/query", params={"query": "up", "time": "yesterday"})
    assert r.status_code == 400 and "cannot parse" in r.json()["error"]


async def test_execution_error_is_422(client: httpx.AsyncClient) -> None:
    r = await client.get("/prometheus/api/v1/query",
                         params={"query": "up + on(job) up", "time": "300"})
    assert r.status_code == 422
    assert r.json()["errorType"] == "execution"


async def test_timeout_is_503(client: httpx.AsyncClient) -> None:
    r = await client.get("/prometheus/api/v1/query_range",
                         params={"query": "up", "start": "0", "end": "600", "step": "1",
                                 "timeout": "0s"})
    assert r.status_code == 503
    assert r.json()["errorType"] == "timeout"


async def test_series_labels_values(client: httpx.AsyncClient, store: object) -> None:
    r = await client.get("/prometheus/api/v1/series", params={"match[]": "up", "start": "0",
                                                               "end": "600"})
    assert r.json()["data"] == [{"__name__": "up", "instance": "a", "job": "api"},
                                {"__name__": "up", "instance": "b", "job": "api"}]
    r = await client.get("/prometheus/api/v1/series")
    assert r.status_code == 400 and r.json()["error"] == "no match[] parameter provided"
    r = await client.get("/prometheus/api/v1/labels")
    assert r.json()["data"] == ["__name__", "instance", "job"]
    r = await client.get("/prometheus/api/v1/label/instance/values", params={"limit": "1"})
    assert r.json()["data"] == ["a"]
    assert r.json()["warnings"] == ["results truncated due to limit"]
    assert store.tenants[-1] == "anonymous"  # type: ignore[attr-defined]


async def test_format_metadata_exemplars(client: httpx.AsyncClient) -> None:
    r = await client.get("/prometheus/api/v1/format_query",
                         params={"query": "sum  by(job)(rate(up[5m]))"})
    assert r.json()["data"] == "sum by (job) (rate(up[5m]))"
    # Without ingesters (no MetaSource) there is nothing to serve.
    assert (await client.get("/prometheus/api/v1/metadata")).json()["data"] == {}
    r = await client.get("/prometheus/api/v1/query_exemplars", params={"query": "up"})
    assert r.json()["data"] == []


async def test_querier_config_reaches_engine(store: object) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from tidewell.api.prometheus import query_routes
    from tidewell.querier.config import ErrInvalidLookbackDelta, QuerierConfig

    with pytest.raises(ErrInvalidLookbackDelta):
        QuerierConfig(lookback_delta=0).validate()
    cfg = QuerierConfig(lookback_delta=10.0, max_samples=5)
    app = Starlette(routes=[Mount("/prometheus", routes=query_routes(store, cfg))])  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as c:
        # Samples are 15 s apart: with a 10 s lookback, t=612 s sees nothing.
        r = await c.get("/prometheus/api/v1/query", params={"query": "up", "time": "612"})
        assert r.json()["data"]["result"] == []
        r = await c.get("/prometheus/api/v1/query_range",
                        params={"query": "up", "start": "0", "end": "600", "step": "15"})
        assert r.status_code == 422
        assert "too many samples" in r.json()["error"]


def test_go_number_formatting() -> None:
    import numpy as np

    from tidewell.api.prometheus.routes import go_numbers
    from tidewell.promql.format import format_float

    rng = np.random.default_rng(3)
    values = np.concatenate([
        [0.0, -0.0, 1.0, -3.0, 0.1, 1e-7, 2.5e-5, 1e-4, 1e15, 1e16, 1e21, np.nan, np.inf,
         -np.inf, 5e-324, 123.0, 999999999999999.0],
        rng.random(300) * 10.0 ** rng.integers(-9, 22, 300),
        rng.integers(-10**6, 10**6, 100).astype(float)])
    assert [b.decode() for b in go_numbers(values)] == [format_float(v) for v in values]
    ints = np.arange(5, dtype=float)
    assert go_numbers(ints) == [b"0", b"1", b"2", b"3", b"4"]


async def test_range_points_are_written_as_prometheus_writes_them(
        client: httpx.AsyncClient) -> None:
    r = await client.get("/prometheus/api/v1/query_range",
                         params={"query": "vector(0.5)", "start": "1", "end": "2", "step": "0.5"})
    assert b'"values":[[1,"0.5"],[1.5,"0.5"],[2,"0.5"]]' in r.content
    r = await client.get("/prometheus/api/v1/query_range",
                         params={"query": "vector(0)/0", "start": "-2", "end": "-1", "step": "1"})
    assert b'"values":[[-2,"NaN"],[-1,"NaN"]]' in r.content


async def test_query_limit_truncates(client: httpx.AsyncClient) -> None:
    r = await client.get("/prometheus/api/v1/query",
                         params={"query": "up", "time": "300", "limit": "1"})
    body = r.json()
    assert len(body["data"]["result"]) == 1
    assert body["warnings"] == ["results truncated due to limit"]
    r = await client.get("/prometheus/api/v1/query_range",
                         params={"query": "up", "start": "0", "end": "60", "step": "15",
                                 "limit": "-1"})
    assert r.status_code == 400 and r.json()["errorType"] == "bad_data"


def _histogram_client() -> httpx.AsyncClient:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from tests.conformance.memstore import MemStore
    from tidewell.api.prometheus import query_routes
    from tidewell.model import Histogram, Labels
    from tidewell.querier.config import QuerierConfig

    exp = Histogram(schema=0, zero_threshold=0.001, zero_count=2, count=10, sum=15.5,
                    positive_spans=((0, 2),), positive_buckets=(3, 4),
                    negative_spans=((0, 1),), negative_buckets=(1,), integer=True)
    nhcb = Histogram(schema=-53, count=3, sum=7, positive_spans=((0, 3),),
                     positive_buckets=(2, 0, 1), custom_values=(1.0, 5.0))
    store = MemStore()
    store.add_histograms(Labels.from_dict({"__name__": "lat", "kind": "exp"}), [0, 60_000],
                         [exp, exp])
    store.add_histograms(Labels.from_dict({"__name__": "lat", "kind": "nhcb"}), [0], [nhcb])
    mixed = Labels.from_dict({"__name__": "mixed"})
    store.add(mixed, [0], [1.5])
    store.add_histograms(mixed, [60_000], [exp])
    app = Starlette(routes=[Mount("/prometheus", routes=query_routes(store, QuerierConfig()))])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


_EXP_JSON = {"count": "10", "sum": "15.5",
             "buckets": [[1, "-1", "-0.5", "1"], [3, "-0.001", "0.001", "2"],
                         [0, "0.5", "1", "3"], [0, "1", "2", "4"]]}


async def test_instant_histograms_json() -> None:
    """Prometheus's ``histogram`` field: string numbers, boundary rules, no empty buckets."""
    async with _histogram_client() as c:
        r = await c.get("/prometheus/api/v1/query", params={"query": "lat", "time": "60"})
    result = sorted(r.json()["data"]["result"], key=lambda s: s["metric"]["kind"])
    assert result == [
        {"metric": {"__name__": "lat", "kind": "exp"}, "histogram": [60, _EXP_JSON]},
        {"metric": {"__name__": "lat", "kind": "nhcb"},
         "histogram": [60, {"count": "3", "sum": "7",
                            "buckets": [[3, "-Inf", "1", "2"], [0, "5", "+Inf", "1"]]}]}]


async def test_range_histograms_json() -> None:
    """Matrix series carry ``values`` for floats and ``histograms`` for histograms."""
    async with _histogram_client() as c:
        r = await c.get("/prometheus/api/v1/query_range",
                        params={"query": '{__name__=~"lat|mixed", kind!="nhcb"}', "start": "0",
                                "end": "60", "step": "60"})
        r2 = await c.get("/prometheus/api/v1/query",
                         params={"query": "histogram_count(lat)", "time": "60"})
    result = r.json()["data"]["result"]
    assert result == [
        {"metric": {"__name__": "lat", "kind": "exp"},
         "histograms": [[0, _EXP_JSON], [60, _EXP_JSON]]},
        {"metric": {"__name__": "mixed"}, "values": [[0, "1.5"]],
         "histograms": [[60, _EXP_JSON]]}]
    counts = {s["metric"]["kind"]: s["value"][1] for s in r2.json()["data"]["result"]}
    assert counts == {"exp": "10", "nhcb": "3"}


def test_histogram_float_formatting() -> None:
    from tidewell.api.prometheus.histogram_json import json_float

    assert [json_float(v) for v in (1e-7, 2.5e22, 123.5, 0.0, float("inf"), float("nan"))] \
        == ["1e-07", "2.5e+22", "123.5", "0", "+Inf", "NaN"]
