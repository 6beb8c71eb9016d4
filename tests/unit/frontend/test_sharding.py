"""The query-sharding middleware in front of a real querier API (in-process, over ASGI)
whose store honours ``__query_shard__`` as the ingesters and store-gateways do."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np
import pytest
from prometheus_client import REGISTRY
from starlette.applications import Starlette
from starlette.routing import Mount

from tidewell.api.prometheus.histogram_json import histogram_json
from tidewell.api.prometheus.routes import query_routes
from tidewell.frontend import FrontendConfig, HTTPDownstream, QueryFrontend, QueryRequest
from tidewell.frontend.embedded import HistogramsInShardsError, series_of
from tidewell.frontend.request import INSTANT, RANGE, QueryResponse
from tidewell.frontend.sharding import QueryShardingMiddleware, ShardingLimits, plan
from tidewell.model import Histogram, HistogramSamples, Labels, Matcher, Series, is_stale_nan
from tidewell.model.shard import split_shard
from tidewell.querier.config import QuerierConfig

pytestmark = pytest.mark.anyio
T = 3_600_000


class Store:
    """60 counters in 3 jobs, plus a native histogram series ``h``."""

    def __init__(self) -> None:
        ts = np.arange(0, T + 1, 15_000, dtype=np.int64)
        self.series = [Series(Labels([("__name__", "c_total"), ("i", str(i)),
                                      ("job", f"j{i % 3}")]), ts, ts / 1000.0 * (i + 1))
                       for i in range(60)]
        hts = np.arange(0, T + 1, 60_000, dtype=np.int64)
        self.series.append(Series(Labels([("__name__", "h")]), ts[:0], np.zeros(0),
                                  histograms=HistogramSamples(hts, [
                                      Histogram(count=k, sum=k, schema=0,
                                                positive_spans=[(0, 1)],
                                                positive_buckets=[k])
                                      for k in range(len(hts))])))
        self.series.sort(key=lambda s: s.labels)

    def querier(self, tenant: str, mint: int, maxt: int) -> Store:
        return self

    def select(self, matchers: Sequence[Matcher], hints: object = None) -> list[Series]:
        shard, rest = split_shard(matchers)
        return [s for s in self.series if all(m.matches_labels(s.labels) for m in rest)
                and (shard is None or shard.owns(s.labels))]


class Recording:
    """The downstream as the middleware sees it: every request it sends, then the querier."""

    def __init__(self, inner: HTTPDownstream) -> None:
        self.inner = inner
        self.requests: list[QueryRequest] = []

    async def do(self, request: QueryRequest) -> QueryResponse:
        self.requests.append(request)
        return await self.inner.do(request)


@pytest.fixture
async def setup() -> Any:
    store = Store()
    app = Starlette(routes=[Mount("/prometheus", routes=query_routes(store, QuerierConfig()))])
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
                               base_url="http://querier", timeout=None)
    shards = {"t": 4, "off": 0}
    limits = ShardingLimits(lambda t: shards[t], lambda t: 128, lambda t: False)
    fe = QueryFrontend(FrontendConfig(parallelize_shardable_queries=True, cache_results=False),
                       HTTPDownstream(client), sharding=limits)
    rec = Recording(fe.downstream)
    fe.queue.next = rec
    yield fe, rec, store
    await fe.close()


def _metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def _data(resp: QueryResponse) -> Any:
    doc = resp.json()
    assert doc["status"] == "success", doc
    return doc["data"]


def _close(a: Any, b: Any) -> None:
    assert a["resultType"] == b["resultType"]
    assert [s["metric"] for s in a["result"]] == [s["metric"] for s in b["result"]]
    for x, y in zip(a["result"], b["result"], strict=True):
        xs, ys = x.get("values") or [x["value"]], y.get("values") or [y["value"]]
        assert [p[0] for p in xs] == [p[0] for p in ys]
        np.testing.assert_allclose([float(p[1]) for p in xs], [float(p[1]) for p in ys],
                                   rtol=1e-12)


@pytest.mark.parametrize("query", [
    "sum by (job) (rate(c_total[5m]))", "avg(c_total)", "count without (i) (c_total > 1000)",
    "max by (job) (c_total) - min by (job) (c_total)", "rate(c_total[5m]) > 0.5",
])
async def test_sharded_answer_equals_unsharded(setup: Any, query: str) -> None:
    fe, rec, _ = setup
    for kind, start, step in ((RANGE, 600_000, 60_000), (INSTANT, T, 0)):
        attempts = _metric("cortex_frontend_query_sharding_rewrites_succeeded_total")
        rec.requests.clear()
        sharded = await fe.do(QueryRequest(kind, "t", query, start, T, step))
        assert _metric("cortex_frontend_query_sharding_rewrites_succeeded_total") == attempts + 1
        shards = {r.query.split("__query_shard__=")[1][1:7] for r in rec.requests}
        assert shards == {"1_of_4", "2_of_4", "3_of_4", "4_of_4"}
        direct = await fe.downstream.do(QueryRequest(kind, "t", query, start, T, step))
        _close(_data(sharded), _data(direct))


async def test_tenant_without_shards_and_unshardable_queries_go_through_unchanged(
        setup: Any) -> None:
    fe, rec, _ = setup
    await fe.do(QueryRequest(INSTANT, "off", "sum(c_total)", T, T))
    await fe.do(QueryRequest(INSTANT, "t", "quantile(0.5, c_total)", T, T))
    await fe.do(QueryRequest(INSTANT, "t", "sum(c_total)", T, T, params=(("stats", "all"),)))
    assert [r.query for r in rec.requests] == ["sum(c_total)", "quantile(0.5, c_total)",
                                               "sum(c_total)"]


async def test_limit_applies_to_the_merged_answer(setup: Any) -> None:
    fe, rec, _ = setup
    q = "sum by (i) (rate(c_total[5m]))"
    resp = await fe.do(QueryRequest(RANGE, "t", q, 600_000, T, 60_000, params=(("limit", "7"),)))
    doc = resp.json()
    assert len(doc["data"]["result"]) == 7 and doc["warnings"] == ["results truncated due to "
                                                                   "limit"]
    assert all(r.param("limit") is None and "__query_shard__" in r.query for r in rec.requests)
    resp = await fe.do(QueryRequest(INSTANT, "t", q, T, T, params=(("limit", "x"),)))
    assert resp.status_code == 400 and rec.requests[-1].query == q  # the querier's error


async def test_native_histograms_shard_in_full(setup: Any) -> None:
    fe, rec, _ = setup
    for kind, start, step in ((INSTANT, T, 0), (RANGE, 600_000, 60_000)):
        req = QueryRequest(kind, "t", "sum(rate(h[5m]))", start, T, step)
        sharded = (await fe.do(req)).json()
        assert "__query_shard__" in rec.requests[-1].query
        direct = (await fe.downstream.do(req)).json()
        assert sharded["status"] == "success" and sharded["data"]["result"]
        assert sharded["data"] == direct["data"]
        # Asked for exact histograms (as the ruler asks), the merged answer has them too.
        exact = req.with_header("x-tidewell-histograms", "exact")
        sharded = json.loads((await fe.do(exact)).body)
        assert "__query_shard__" in rec.requests[-1].query
        direct = (await fe.downstream.do(exact)).json()
        first = sharded["data"]["result"][0]
        point = first["histogram"] if kind == INSTANT else first["histograms"][-1]
        assert "exact" in point[1] and sharded["data"] == direct["data"]


async def test_a_failing_shard_fails_the_query(setup: Any) -> None:
    fe, rec, _ = setup
    resp = await fe.do(QueryRequest(RANGE, "t", "sum(c_total)", 0, T, 60_000,
                                    params=(("timeout", "-1s"),)))
    assert "__query_shard__" in rec.requests[-1].query  # the shard's own error comes back
    assert resp.status_code == 400 and resp.json()["errorType"] == "bad_data"


async def test_shards_in_flight_are_bounded_by_max_query_parallelism() -> None:
    class Slow:
        def __init__(self) -> None:
            self.now = self.most = 0

        async def do(self, request: QueryRequest) -> QueryResponse:
            self.now += 1
            self.most = max(self.most, self.now)
            await asyncio.sleep(0.01)
            self.now -= 1
            return QueryResponse.from_json({"status": "success", "data": {
                "resultType": "vector", "result": []}})

    slow = Slow()
    limits = ShardingLimits(lambda t: 16, lambda t: 0, lambda t: False)
    mw = QueryShardingMiddleware(limits, 2, 10.0, parallelism=3).wrap(slow)
    resp = await mw.do(QueryRequest(INSTANT, "t", "avg(x)", T, T))
    assert resp.ok and slow.most == 3  # 32 shard queries, 3 at a time
    slow.most = 0
    await mw.do(QueryRequest(INSTANT, "t", "avg(x)", T, T).with_total_queries(2))
    assert slow.most == 1  # two split parts share the three


def test_shards_per_query_honour_max_sharded_queries() -> None:
    p = plan("avg(x)", 16, 128, 1, False)
    assert p is not None and p.shards == 16 and p.sharded_queries == 32
    p = plan("avg(x)", 16, 128, 24, False)  # 24 split parts, 2 legs: 128 // 24 // 2 = 2
    assert p is not None and p.shards == 2
    assert plan("avg(x)", 16, 128, 100, False) is None  # one shard is no sharding
    assert plan("avg(x)", 16, 0, 100, False).shards == 16  # type: ignore[union-attr]
    assert plan("avg(x", 16, 0, 1, False) is None  # the querier phrases parse errors
    long_re = 'sum(x{a=~"' + "b" * 40 + '"})'
    assert plan(long_re, 4, 0, 1, False, 39) is None  # a regexp over the size limit
    assert plan(long_re, 4, 0, 1, False, 40) is not None


def test_gaps_in_a_shard_answer_get_staleness_markers() -> None:
    doc = {"data": {"resultType": "matrix", "result": [
        {"metric": {"a": "1"}, "values": [[60, "1"], [120, "2"], [300, "5"]]}]}}
    (s,) = series_of(doc, 60_000)
    assert s.timestamps.tolist() == [60_000, 120_000, 180_000, 300_000, 360_000]
    assert [is_stale_nan(v) for v in s.values] == [False, False, True, False, True]
    (s,) = series_of({"data": {"resultType": "scalar", "result": [60, "3"]}}, 0)
    assert s.labels == Labels() and s.values.tolist() == [3.0]
    with pytest.raises(HistogramsInShardsError):  # bucket bounds alone
        series_of({"data": {"resultType": "vector", "result": [
            {"metric": {}, "histogram": [60, {"count": "1"}]}]}}, 0)
    h = Histogram(count=2, sum=3, schema=1, positive_spans=((0, 1),), positive_buckets=(2,))
    exact = histogram_json(h, exact=True)
    (s,) = series_of({"data": {"resultType": "matrix", "result": [
        {"metric": {}, "histograms": [[60, exact], [180, exact]]}]}}, 60_000)
    assert s.histograms is not None and len(s) == 0
    assert s.histograms.timestamps.tolist() == [60_000, 120_000, 180_000, 240_000]
    assert s.histograms.values[0] == h and is_stale_nan(s.histograms.values[1].sum)
    with pytest.raises(HistogramsInShardsError):  # floats and histograms in one series
        series_of({"data": {"resultType": "matrix", "result": [
            {"metric": {}, "values": [[0, "1"]], "histograms": [[60, exact]]}]}}, 60_000)


def test_a_query_is_mapped_once_per_text_and_limits() -> None:
    q = "sum by (job) (rate(plan_cache_probe_total[5m]))"
    before = plan.cache_info().misses
    first = plan(q, 16, 128, 1, False)
    assert plan(q, 16, 128, 1, False) is first  # a dashboard refresh: no second mapping
    assert plan.cache_info().misses == before + 1
    other = plan(q, 4, 128, 1, False)  # other limits: mapped anew
    assert other is not None and other.shards == 4 and first is not None and first.shards == 16
