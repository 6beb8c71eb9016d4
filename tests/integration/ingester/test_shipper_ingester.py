"""An ingester with 10s blocks over a real log and S3 (moto): blocks appear in the bucket
on their own, and after the ingester loses its disk the data is still in the bucket, read
back both by downloading the blocks and through the store-gateway."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import REGISTRY

from tidewell.ingest.config import IngestStorageConfig
from tidewell.ingest.embedded.log import EmbeddedLog
from tidewell.ingest.log import ProduceRequest
from tidewell.ingester import Ingester, IngesterConfig, IngesterRingConfig
from tidewell.model import Labels, SampleBatch
from tidewell.objstore import new_bucket
from tidewell.objstore.bucketindex import build_bucket_index, update_bucket_index
from tidewell.protocol.rw1 import encode_write_request
from tidewell.storegateway.config import BucketStoreConfig
from tidewell.storegateway.gateway import StoreGateway
from tidewell.tsdb.config import TSDBConfig

from ..objstore.conftest import moto_factory  # noqa: F401 - fixture
from .test_shipper import read_back, s3_config

pytestmark = [pytest.mark.timeout(90), pytest.mark.anyio]

TENANT = "team-a"
SERIES = [Labels.from_dict({"__name__": "m", "job": "j", "i": str(i)}) for i in range(50)]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make(log: EmbeddedLog, data: Path, bucket) -> Ingester:
    ingest = IngestStorageConfig()
    ingest.kafka.consumer_group_offset_commit_interval = 0.05
    cfg = IngesterConfig(ring=IngesterRingConfig(instance_id="ingester-zone-a-0"),
                         fetch_wait=0.05)
    tsdb = TSDBConfig(block_ranges_period=10.0, head_compaction_interval=0.2,
                      ship_interval=0.2)
    return Ingester(cfg, tsdb, ingest, None, log, str(data), bucket=bucket)


def record(t: int) -> ProduceRequest:
    batch = SampleBatch(
        list(SERIES), np.arange(len(SERIES), dtype="int32"),
        np.full(len(SERIES), t, dtype="int64"),
        np.array([t / 1000 + i for i in range(len(SERIES))]),
    )
    return ProduceRequest(0, TENANT.encode(), encode_write_request(batch), 1)


async def test_ingester_ships_blocks_and_data_survives_losing_its_disk(
    tmp_path: Path, moto_factory  # noqa: F811 - fixture
) -> None:
    s3 = moto_factory(0)
    s3.create_bucket("blocks")
    bucket = new_bucket(s3_config(s3.endpoint, "blocks"), tmp_path / "unused")
    log = EmbeddedLog(str(tmp_path / "log"), 1, group_commit_window=0.0)
    times = range(0, 62_000, 1_000)  # a minute of 1s scrapes, 50 series
    uploads0 = REGISTRY.get_sample_value("cortex_ingester_shipper_uploads_total") or 0.0
    ing = make(log, tmp_path / "ing", bucket)
    await ing.start()
    last = -1
    for t in times:
        (last,) = await log.produce([record(t)])
    await ing.wait_for_offset(last, 20)

    # The background loops cut [0,10s) ... [40s,50s) and ship them, without help.
    deadline = time.monotonic() + 20
    blocks: list = []
    while time.monotonic() < deadline:
        blocks = build_bucket_index(bucket, TENANT)[0].blocks
        if len(blocks) == 5:
            break
        await asyncio.sleep(0.1)
    assert sorted((b.min_time, b.max_time) for b in blocks) == [
        (k * 10_000, (k + 1) * 10_000) for k in range(5)
    ]
    assert all(b.source == "receive" for b in blocks)
    assert REGISTRY.get_sample_value("cortex_ingester_shipper_uploads_total") == uploads0 + 5
    assert REGISTRY.get_sample_value(
        "cortex_ingester_shipper_last_successful_upload_timestamp_seconds") > 0
    # Flush (as before a scale-down): the open range goes too.
    assert await ing.compact(force=True) == 2
    assert await ing.ship() == 2
    want = {s: [(t, t / 1000 + i) for t in times] for i, s in enumerate(SERIES)}
    got = {s.labels: list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
           for s in ing.querier(TENANT, 0, 10**9).select([])}
    assert got == want
    await ing.stop()

    # The ingester loses its disk; it resumes from the committed offset with an empty head.
    shutil.rmtree(tmp_path / "ing")
    ing2 = make(log, tmp_path / "ing", bucket)
    await ing2.start()
    assert ing2.querier(TENANT, 0, 10**9).select([]) == []
    await ing2.stop()
    assert read_back(bucket, TENANT, tmp_path / "dl") == want
    # And the store-gateway answers the same from the bucket, once the compactor's
    # cleaner (the index's only writer; the ingester wrote none) indexed the blocks.
    assert not bucket.exists(f"{TENANT}/bucket-index.json.gz")
    update_bucket_index(bucket, TENANT)
    sg = StoreGateway(BucketStoreConfig(), bucket, tmp_path / "sg")
    await asyncio.to_thread(sg.sync)
    series = await asyncio.to_thread(lambda: sg.querier(TENANT, 0, 10**9).select([]))
    assert {s.labels: list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
            for s in series} == want
    await sg.stop()
