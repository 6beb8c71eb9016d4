"""``-query-frontend.max-total-query-length``: a too-long range query is refused with 400
before it takes a queue slot or reaches the querier; shorter ones pass."""

from __future__ import annotations

import pytest

from tidewell.frontend import FrontendConfig, QueryFrontend, asgi_downstream

from .test_routes import DAY, FakeQuerierApp, client_for


@pytest.mark.anyio
async def test_total_query_length_refused_before_the_querier() -> None:
    q = FakeQuerierApp()
    fe = QueryFrontend(FrontendConfig(), asgi_downstream(q.app),
                       max_total_query_length=lambda tenant: 2 * DAY)
    async with client_for(fe) as c:
        r = await c.get("/prometheus/api/v1/query_range",
                        params={"query": "m", "start": 0, "end": 3 * DAY, "step": "1h"})
        assert r.status_code == 400
        assert r.json() == {"status": "error", "errorType": "bad_data", "error": (
            "the total query time range exceeds the limit (query length: 72h0m0s, limit: "
            "48h0m0s) (err-mimir-max-total-query-length). To adjust the related per-tenant "
            "limit, configure -query-frontend.max-total-query-length, or contact your service "
            "administrator.")}
        assert q.seen == []
        r = await c.get("/prometheus/api/v1/query_range",
                        params={"query": "m", "start": 0, "end": 2 * DAY, "step": "1h"})
        assert r.status_code == 200 and q.seen
        r = await c.get("/prometheus/api/v1/query", params={"query": "m", "time": 3 * DAY})
        assert r.status_code == 200
    await fe.close()


@pytest.mark.anyio
async def test_total_query_length_is_the_tenants_own() -> None:
    q = FakeQuerierApp()
    limits = {"short": 1 * DAY, "long": 7 * DAY}
    fe = QueryFrontend(FrontendConfig(), asgi_downstream(q.app),
                       max_total_query_length=lambda tenant: limits.get(tenant, 0.0))
    params = {"query": "m", "start": 0, "end": 3 * DAY, "step": "1h"}
    async with client_for(fe) as c:
        for tenant, status in (("short", 400), ("long", 200), ("unlimited", 200)):
            r = await c.get("/prometheus/api/v1/query_range", params=params,
                            headers={"X-Scope-OrgID": tenant})
            assert r.status_code == status, (tenant, r.text)
        r = await c.get("/prometheus/api/v1/query_range", params=params,
                        headers={"X-Scope-OrgID": "short"})
        assert "limit: 24h0m0s" in r.json()["error"]
    await fe.close()
