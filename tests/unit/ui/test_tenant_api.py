"""``/ui/api/v1/*``: the tenant comes from ``X-Scope-OrgID`` and the answer holds that
tenant's counters only; without a store-gateway in the process, ``blocks`` says so."""

from __future__ import annotations

import httpx
import pytest

from tidewell.api.server import build_app
from tidewell.distributor import metrics as dm
from tidewell.ui import ui_routes

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_ingest_counts_are_the_callers_and_blocks_need_a_store_gateway() -> None:
    dm.RECEIVED_SAMPLES.labels("ui-a").inc(7)
    dm.DISCARDED_SAMPLES.labels("ui-a", "sample_out_of_bounds").inc(2)
    dm.RECEIVED_SAMPLES.labels("ui-b").inc(5)
    dm.DISCARDED_SAMPLES.labels("ui-b", "label_invalid").inc(1)
    app = build_app(ui_routes(), multitenancy_enabled=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as c:
        assert (await c.get("/ui/api/v1/ingest")).status_code == 401
        a = (await c.get("/ui/api/v1/ingest", headers={"X-Scope-OrgID": "ui-a"})).json()
        b = (await c.get("/ui/api/v1/ingest", headers={"X-Scope-OrgID": "ui-b"})).json()
        none = (await c.get("/ui/api/v1/ingest", headers={"X-Scope-OrgID": "ui-c"})).json()
        blocks = await c.get("/ui/api/v1/blocks", headers={"X-Scope-OrgID": "ui-a"})
    assert a["tenant"] == "ui-a" and a["received_samples"] == 7
    assert a["discarded_samples"] == {"sample_out_of_bounds": 2}
    assert b["received_samples"] == 5 and b["discarded_samples"] == {"label_invalid": 1}
    assert none["received_samples"] == 0 and none["discarded_samples"] == {}
    assert blocks.status_code == 404 and "no store-gateway" in blocks.text
