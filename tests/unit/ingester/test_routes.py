"""/ingester/prepare-partition-downscale against a real lifecycler and in-memory ring."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from tidewell.ingester import ingester_routes
from tidewell.ingester.shipper import Shipper
from tidewell.model import Labels
from tidewell.objstore import FilesystemBucket
from tidewell.objstore.bucketindex import build_bucket_index
from tidewell.ring.config import PartitionRingConfig
from tidewell.ring.kv import InMemoryKV
from tidewell.ring.lifecycler import PartitionInstanceLifecycler
from tidewell.ring.model import PartitionState
from tidewell.ring.partition_ring import PARTITION_RING_KEY

from .conftest import new_ingester, new_log, record

pytestmark = [pytest.mark.timeout(30), pytest.mark.anyio]

URL = "/ingester/prepare-partition-downscale"


async def test_downscale_moves_partition_inactive_and_back(tmp_path: Path) -> None:
    kv = InMemoryKV()
    ring_cfg = PartitionRingConfig(min_partition_owners_duration=0, lifecycler_poll_period=0.02)
    lc = PartitionInstanceLifecycler(kv, ring_cfg)
    log = new_log(str(tmp_path / "log"))
    ing = new_ingester(log, str(tmp_path / "ing"))
    ing.lifecycler = lc
    ing.config.partition_ring = ring_cfg
    await ing.start()

    async def state() -> PartitionState:
        return (await kv.get(PARTITION_RING_KEY)).partitions[3].state

    for _ in range(100):
        if await state() is PartitionState.ACTIVE:
            break
        await asyncio.sleep(0.02)
    assert await state() is PartitionState.ACTIVE
    assert "ingester-zone-a-3" in (await kv.get(PARTITION_RING_KEY)).owners_of(3)

    app = Starlette(routes=ingester_routes(ing))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get(URL)).json() == {"timestamp": 0}
        r = await client.post(URL)
        assert r.status_code == 200 and r.json()["timestamp"] > 0
        assert await state() is PartitionState.INACTIVE
        assert (await client.get(URL)).json() == r.json()
        r = await client.delete(URL)
        assert r.status_code == 200 and r.json() == {"timestamp": 0}
        assert await state() is PartitionState.ACTIVE
    await ing.stop()
    await log.close()


async def test_routes_without_ring_answer_404(tmp_path: Path) -> None:
    log = new_log(str(tmp_path / "log"))
    ing = new_ingester(log, str(tmp_path / "ing"))
    app = Starlette(routes=ingester_routes(ing))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.post(URL)).status_code == 404
    await log.close()


async def test_flush_cuts_open_ranges_and_ships(tmp_path: Path) -> None:
    log = new_log(str(tmp_path / "log"))
    ing = new_ingester(log, str(tmp_path / "ing"))
    bucket = FilesystemBucket(tmp_path / "bucket")
    ing.shipper = Shipper(bucket, ing.layout.tenants_dir)
    up = Labels.from_dict({"__name__": "up"})
    (last,) = await log.produce([record(3, "t1", [(up, 1_000, 1.0), (up, 2_000, 2.0)])])
    await ing.start()
    await ing.wait_for_offset(last, 10)
    app = Starlette(routes=ingester_routes(ing))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.post("/ingester/flush")).status_code == 204
    (block,) = build_bucket_index(bucket, "t1")[0].blocks
    assert (block.min_time, block.max_time) == (0, 7_200_000)  # the open 2h range
    assert ing.tenant_tsdb("t1").head.num_samples() == 0
    assert [s.timestamps.tolist() for s in ing.querier("t1", 0, 10**9).select([])] == [
        [1_000, 2_000]
    ]
    await ing.stop()
    await log.close()


async def test_flush_first_consumes_what_was_acknowledged_before_it(tmp_path: Path) -> None:
    log = new_log(str(tmp_path / "log"))
    ing = new_ingester(log, str(tmp_path / "ing"))
    bucket = FilesystemBucket(tmp_path / "bucket")
    ing.shipper = Shipper(bucket, ing.layout.tenants_dir)
    up = Labels.from_dict({"__name__": "up"})
    await ing.start()
    # Acknowledged by the log, not yet consumed when the flush arrives: a cut first
    # would close the head to them (out of bounds) and they would never reach a block.
    await log.produce([record(3, "t1", [(up, 1_000 * (i + 1), float(i))]) for i in range(200)])
    app = Starlette(routes=ingester_routes(ing))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.post("/ingester/flush")).status_code == 204
    (series,) = ing.querier("t1", 0, 10**9).select([])
    assert len(series.timestamps) == 200
    assert ing.tenant_tsdb("t1").head.num_samples() == 0  # all of it in the block
    await ing.stop()
    await log.close()


async def test_flush_answers_500_when_the_compaction_it_triggered_failed(tmp_path: Path) -> None:
    log = new_log(str(tmp_path / "log"))
    ing = new_ingester(log, str(tmp_path / "ing"))
    up = Labels.from_dict({"__name__": "up"})
    (last,) = await log.produce([record(3, "t1", [(up, 1_000, 1.0)])])
    await ing.start()
    await ing.wait_for_offset(last, 10)
    # The tenant's directory cannot be created: a file holds its name.
    Path(ing.layout.tenant_dir("t1")).write_text("not a directory")
    app = Starlette(routes=ingester_routes(ing))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.post("/ingester/flush")
    assert r.status_code == 500
    assert r.json()["status"] == "error" and "Not a directory" in r.json()["error"], r.text
    assert ing.tenant_tsdb("t1").head.num_samples() == 1  # nothing was cut
    await ing.stop()
    await log.close()


async def test_appendable_floors_answer_every_tenant_with_a_head(tmp_path: Path) -> None:
    """What distributors in other processes poll (``distributor/floors.py``)."""
    log = new_log(str(tmp_path / "log"))
    up = Labels.from_dict({"__name__": "up"})
    hour = 3_600_000
    await log.produce([record(3, "t1", [(up, 5 * hour, 1.0)])])
    (last,) = await log.produce([record(3, "t2", [(up, 9 * hour, 1.0)])])
    ing = new_ingester(log, str(tmp_path / "ing"))
    await ing.start()
    await ing.wait_for_offset(last, 10)
    app = Starlette(routes=ingester_routes(ing))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get("/ingester/appendable-floors")
    assert r.status_code == 200
    # The 2h block range's window: an hour before each head's newest sample.
    assert r.json() == {"partition": 3, "instance": "ingester-zone-a-3",
                        "floors": {"t1": 4 * hour, "t2": 8 * hour}}
    assert ing.appendable_floors("t1") == {3: 4 * hour}
    assert ing.appendable_floors("nobody") == {}
    await ing.stop()
    await log.close()
