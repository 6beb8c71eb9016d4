from __future__ import annotations

import pytest

from tidewell.frontend.cache import InMemoryCache
from tidewell.frontend.request import QueryResponse, error_response
from tidewell.frontend.results_cache import ResultsCacheMiddleware, cache_key

from .conftest import MatrixDownstream, matrix_for, range_request

DAY = 86400
D0 = 100 * DAY  # an old day, far from "now" unless a test says otherwise
H = 3600


def make(ds, *, now=D0 + 30 * DAY, freshness=600.0, cache=None):
    cache = cache if cache is not None else InMemoryCache(1 << 20)
    mw = ResultsCacheMiddleware(cache, window=DAY, max_freshness=freshness, now=lambda: now)
    return mw.wrap(ds), cache


def spans(ds):
    return [(r.start // 1000, r.end // 1000) for r in ds.requests]


@pytest.mark.anyio
async def test_second_identical_query_is_a_hit(downstream):
    h, cache = make(downstream)
    req = range_request(D0, D0 + 6 * H, 60)
    first = await h.do(req)
    second = await h.do(req)
    assert len(downstream.requests) == 1
    assert first.json() == second.json() == matrix_for(req)
    assert len(cache) == 1


@pytest.mark.anyio
async def test_extents_only_fetch_what_is_missing(downstream):
    h, _ = make(downstream)
    await h.do(range_request(D0 + 6 * H, D0 + 12 * H, 60))
    later = range_request(D0 + 9 * H, D0 + 18 * H, 60)
    assert (await h.do(later)).json() == matrix_for(later)
    earlier = range_request(D0, D0 + 18 * H, 60)
    assert (await h.do(earlier)).json() == matrix_for(earlier)
    assert spans(downstream) == [
        (D0 + 6 * H, D0 + 12 * H),
        (D0 + 12 * H, D0 + 18 * H),
        (D0, D0 + 6 * H),
    ]
    inner = range_request(D0 + H, D0 + 17 * H, 60)
    assert (await h.do(inner)).json() == matrix_for(inner)
    assert len(downstream.requests) == 3


@pytest.mark.anyio
async def test_recent_points_are_never_cached(downstream):
    now = D0 + 12 * H + 300  # freshness 10m: only up to 11:55 may be cached
    h, _ = make(downstream, now=now)
    req = range_request(D0, D0 + 12 * H + 300, 60)
    assert (await h.do(req)).json() == matrix_for(req)
    assert (await h.do(req)).json() == matrix_for(req)
    assert spans(downstream) == [(D0, D0 + 12 * H + 300), (D0 + 12 * H - 300, D0 + 12 * H + 300)]
    recent = range_request(now - 120, now, 60)  # starts inside the freshness window
    await h.do(recent)
    await h.do(recent)
    assert len(downstream.requests) == 4


@pytest.mark.anyio
async def test_cache_control_no_store(downstream):
    h, cache = make(downstream)
    req = range_request(D0, D0 + H, 60, headers={"cache-control": "no-store"})
    await h.do(req)
    await h.do(req)
    assert len(downstream.requests) == 2 and len(cache) == 0

    class NoStore(MatrixDownstream):
        async def do(self, request):
            r = await super().do(request)
            return QueryResponse(r.status_code, r.body, {"Cache-Control": "no-store"})

    ds = NoStore()
    h, cache = make(ds)
    await h.do(range_request(D0, D0 + H, 60))
    await h.do(range_request(D0, D0 + H, 60))
    assert len(ds.requests) == 2 and len(cache) == 0


@pytest.mark.anyio
async def test_unaligned_errors_and_other_tenants_are_not_served_from_cache(downstream):
    h, cache = make(downstream)
    unaligned = range_request(D0 + 7, D0 + H + 7, 60)
    await h.do(unaligned)
    await h.do(unaligned)
    assert len(downstream.requests) == 2
    await h.do(range_request(D0, D0 + H, 60, tenant="a"))
    await h.do(range_request(D0, D0 + H, 60, tenant="b"))
    await h.do(range_request(D0, D0 + H, 60, query="m * 2", tenant="a"))
    assert len(downstream.requests) == 5
    await h.do(range_request(D0, D0 + H, 60, tenant="b"))
    assert len(downstream.requests) == 5

    class Failing(MatrixDownstream):
        async def do(self, request):
            self.requests.append(request)
            return error_response(422, "execution", "boom")

    ds = Failing()
    h, cache = make(ds)
    for _ in range(2):
        assert (await h.do(range_request(D0, D0 + H, 60))).status_code == 422
    assert len(ds.requests) == 2 and len(cache) == 0


def test_cache_key_names_tenant_query_step_and_window():
    req = range_request(D0 + 5 * H, D0 + 6 * H, 30, query="sum(rate(x[5m]))", tenant="t")
    assert cache_key(req, DAY * 1000) == "t:sum(rate(x[5m])):30000:100"


@pytest.mark.anyio
async def test_in_memory_cache_is_bounded_in_bytes_and_lru():
    c = InMemoryCache(100)
    await c.set("a", b"x" * 40, 0)
    await c.set("b", b"y" * 40, 0)
    assert await c.get("a") == b"x" * 40  # a is now the most recently used
    await c.set("c", b"z" * 40, 0)
    assert await c.get("b") is None
    assert await c.get("a") is not None and await c.get("c") is not None
    assert c.size_bytes <= 100
    await c.set("huge", b"h" * 200, 0)
    assert await c.get("huge") is None
    await c.set("ttl", b"1", 1e-9)
    assert await c.get("ttl") is None


def test_partition_and_merge_extents():
    from tidewell.frontend.results_cache import Extent, merge_extents, partition

    def ext(a, b):
        r = range_request(a, b, 60)
        return Extent(r.start, r.end, QueryResponse.from_json(matrix_for(r)))

    req = range_request(0, 6000, 60)
    exts = [ext(600, 1200), ext(3000, 3600)]
    requests, cached = partition(req, exts)
    assert [(r.start // 1000, r.end // 1000) for r in requests] == [
        (0, 600), (1200, 3000), (3600, 6000)]
    assert len(cached) == 2
    merged = merge_extents([ext(3000, 3600), ext(600, 1200), ext(1260, 2000), ext(0, 300)], 60_000)
    assert [(e.start // 1000, e.end // 1000) for e in merged] == [(0, 300), (600, 2000),
                                                                  (3000, 3600)]
    assert merged[1].response.json() == matrix_for(range_request(600, 2000, 60))
    single = range_request(720, 720, 60)
    requests, cached = partition(single, exts)
    assert requests == [] and cached[0].json() == matrix_for(single)
    assert partition(single, [])[0] == [single]


@pytest.mark.anyio
async def test_sliver_extents_are_not_stitched_into_long_requests(downstream):
    h, _ = make(downstream)
    await h.do(range_request(D0 + 600, D0 + 720, 60))  # a 2-minute extent
    req = range_request(D0, D0 + H, 60)
    assert (await h.do(req)).json() == matrix_for(req)
    assert spans(downstream)[-1] == (D0, D0 + H)  # one query, not two around the sliver
    again = range_request(D0 + 600, D0 + 720, 60)
    assert (await h.do(again)).json() == matrix_for(again)
    assert len(downstream.requests) == 2
