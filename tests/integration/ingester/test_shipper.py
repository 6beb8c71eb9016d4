"""The shipper against real buckets: a filesystem bucket that records the upload order,
and S3 (moto in server mode on loopback), including the server going down."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import REGISTRY

from tidewell.ingester.head_cutting import compact_head, local_blocks
from tidewell.ingester.shipper import SHIPPER_FILENAME, Shipper, read_shipped
from tidewell.model import Labels, SampleBatch
from tidewell.objstore import Bucket, BucketConfig, FilesystemBucket, new_bucket, tenant_bucket
from tidewell.objstore.bucketindex import build_bucket_index, update_bucket_index
from tidewell.tsdb.block import BlockReader
from tidewell.tsdb.head import Head

from ..objstore.conftest import moto_factory  # noqa: F401 - fixture

pytestmark = pytest.mark.timeout(90)

R = 10_000
TENANT = "team-a"
SERIES = [Labels.from_dict({"__name__": "m", "i": str(i)}) for i in range(4)]


class RecordingBucket(FilesystemBucket):
    """A real filesystem bucket that remembers the order objects became visible."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.order: list[str] = []
        self._mu = threading.Lock()

    def upload_file(self, key: str, path: str | os.PathLike[str]) -> None:
        super().upload_file(key, path)
        with self._mu:
            self.order.append(key)

    def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        super().put(key, data)
        with self._mu:
            self.order.append(key)


def s3_config(endpoint: str, name: str) -> BucketConfig:
    cfg = BucketConfig(backend="s3")
    cfg.s3.endpoint = endpoint
    cfg.s3.insecure = True
    cfg.s3.bucket_name = name
    cfg.s3.region = "us-east-1"
    cfg.s3.access_key_id = "tidewell-test"
    cfg.s3.secret_access_key = "tidewell-test-secret"
    cfg.s3.max_retries = 1
    cfg.s3.http.response_header_timeout = 2.0
    return cfg


def cut_blocks(tsdb_dir: Path, times: range = range(0, 60_000, 500)) -> dict:
    """A tenant head with ``times`` cut into local blocks; returns what was ingested."""
    head = Head(R)
    for t in times:
        head.append(SampleBatch(
            list(SERIES), np.arange(len(SERIES), dtype=np.int32),
            np.full(len(SERIES), t, dtype=np.int64),
            np.array([t / 1000 + i for i in range(len(SERIES))]),
        ))
    metas, before = compact_head(head, tsdb_dir / TENANT, 1)
    assert metas and before is not None
    return {s: [(t, t / 1000 + i) for t in times if t < before] for i, s in enumerate(SERIES)}


def metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def read_back(bucket: Bucket, tenant: str, dest: Path) -> dict:
    """Download every block of the tenant and read it with our block reader."""
    tb = tenant_bucket(bucket, tenant)
    got: dict[Labels, list[tuple[int, float]]] = {}
    for prefix in tb.list_dir("").prefixes:
        ulid = prefix.rstrip("/")
        if not tb.exists(f"{ulid}/meta.json"):
            continue
        for obj in tb.iter_prefix(ulid):
            target = dest / obj.key
            target.parent.mkdir(parents=True, exist_ok=True)
            tb.download_file(obj.key, target)
        with BlockReader(dest / ulid) as b:
            for s in b.querier(-(2**62), 2**62).select([]):
                got.setdefault(s.labels, []).extend(
                    zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
    return {k: sorted(v) for k, v in got.items()}


def test_uploads_meta_last_remembers_and_indexes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="tidewell.ingester")
    tsdb = tmp_path / "tsdb"
    want = cut_blocks(tsdb)
    blocks = local_blocks(tsdb / TENANT)
    assert len(blocks) == 5
    bucket = RecordingBucket(tmp_path / "bucket")
    uploads0 = metric("cortex_ingester_shipper_uploads_total")
    # The in-process compactor's cleaner stands in as the index writer (the only one).
    shipper = Shipper(bucket, tsdb, index_writer=lambda t: update_bucket_index(bucket, t))

    assert asyncio.run(shipper.sync([TENANT])) == 5

    assert metric("cortex_ingester_shipper_uploads_total") == uploads0 + 5
    assert metric("cortex_ingester_shipper_last_successful_upload_timestamp_seconds") > 0
    for b in blocks:
        keys = [k for k in bucket.order if k.startswith(f"{TENANT}/{b.name}/")]
        assert keys[-1] == f"{TENANT}/{b.name}/meta.json"
        assert set(keys) == {f"{TENANT}/{b.name}/{p}" for p in
                             ("chunks/000001", "index", "meta.json")}
        assert bucket.exists(f"{TENANT}/{b.name}/meta.json")
        # The local-only cut marker never leaves the ingester.
        assert not bucket.exists(f"{TENANT}/{b.name}/tidewell-cut.json")
    # The index is written after the blocks it lists.
    assert bucket.order[-1] == f"{TENANT}/bucket-index.json.gz"
    index, _ = build_bucket_index(bucket, TENANT)
    assert sorted(b.block_id for b in index.blocks) == [b.name for b in blocks]
    assert set(read_shipped(tsdb / TENANT)) == {b.name for b in blocks}
    doc = json.loads((tsdb / TENANT / SHIPPER_FILENAME).read_text())
    assert doc["version"] == 1
    logs = [r for r in caplog.records if r.getMessage() == "uploaded block"]
    assert len(logs) == 5
    fields = logs[0].fields  # type: ignore[attr-defined]
    assert fields["user"] == TENANT and fields["series"] == 4 and fields["samples"] == 80
    assert {"block", "minTime", "maxTime"} <= set(fields)
    assert read_back(bucket, TENANT, tmp_path / "dl") == want

    # A restart (new shipper, same directory) uploads nothing again.
    n = len(bucket.order)
    assert asyncio.run(Shipper(bucket, tsdb).sync([TENANT])) == 0
    assert len(bucket.order) == n
    # Lost shipper file, blocks already in the bucket: taken as shipped, not re-uploaded.
    (tsdb / TENANT / SHIPPER_FILENAME).unlink()
    assert asyncio.run(Shipper(bucket, tsdb).sync([TENANT])) == 0
    assert [k for k in bucket.order[n:] if "/meta.json" in k or "/chunks/" in k] == []
    assert set(read_shipped(tsdb / TENANT)) == {b.name for b in blocks}


def test_s3_down_counts_failures_retries_and_loses_nothing(
    tmp_path: Path, moto_factory  # noqa: F811 - fixture
) -> None:
    s3 = moto_factory(0)
    s3.create_bucket("ship")
    bucket = new_bucket(s3_config(s3.endpoint, "ship"), tmp_path / "unused")
    tsdb = tmp_path / "tsdb"
    want = cut_blocks(tsdb, range(0, 40_000, 1000))
    blocks = local_blocks(tsdb / TENANT)
    assert len(blocks) == 3
    s3.server.stop()
    failures0 = metric("cortex_ingester_shipper_upload_failures_total")
    uploads0 = metric("cortex_ingester_shipper_uploads_total")
    shipper = Shipper(bucket, tsdb, attempts=2, backoff=0.05)
    assert asyncio.run(shipper.sync([TENANT])) == 0
    assert metric("cortex_ingester_shipper_upload_failures_total") == failures0 + 3
    assert metric("cortex_ingester_shipper_uploads_total") == uploads0
    assert read_shipped(tsdb / TENANT) == {}
    assert len(local_blocks(tsdb / TENANT)) == 3  # nothing deleted locally

    moto_factory(s3.port)  # the server is back (moto keeps its objects in-process)
    assert asyncio.run(shipper.sync([TENANT])) == 3
    assert metric("cortex_ingester_shipper_uploads_total") == uploads0 + 3
    assert set(read_shipped(tsdb / TENANT)) == {b.name for b in blocks}
    index, _ = build_bucket_index(bucket, TENANT)
    assert len(index.blocks) == 3
    # Without an index writer (an ingester-only process) the index is not the shipper's.
    assert not bucket.exists(f"{TENANT}/bucket-index.json.gz")
    assert read_back(bucket, TENANT, tmp_path / "dl") == want
