"""Readers refuse a bucket index older than ``bucket-index.max-stale-period``: its only
writer (the compactor's cleaner) has stopped, so the blocks it lists may be gone."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.unit.storegateway.sg_helpers import HOUR, T0, make_series, write_and_upload
from tidewell.objstore import FilesystemBucket
from tidewell.objstore.bucketindex import (
    BucketIndex,
    BucketIndexTooOldError,
    check_not_stale,
    read_bucket_index,
)
from tidewell.querier.blocks import BucketIndexBlocksFinder
from tidewell.storegateway.config import BucketIndexConfig, BucketStoreConfig
from tidewell.storegateway.gateway import StoreGateway


def test_message_is_mimirs() -> None:
    with pytest.raises(BucketIndexTooOldError) as err:
        check_not_stale(BucketIndex(updated_at=1_000_000_000), now=1_000_003_601,
                        max_stale_period=3600)
    assert str(err.value) == (
        "the bucket index is too old. It was last updated at 2001-09-09T01:46:40Z, which "
        "exceeds the maximum allowed staleness period of 1h0m0s "
        "(err-mimir-bucket-index-too-old)")
    check_not_stale(BucketIndex(updated_at=1_000_000_000), now=1_000_003_600,
                    max_stale_period=3600)
    check_not_stale(BucketIndex(updated_at=0), now=1e10, max_stale_period=0)  # disabled


def test_gateway_and_querier_fail_queries_on_a_stale_index(tmp_path: Path) -> None:
    bucket = FilesystemBucket(tmp_path / "bucket", fsync=False)
    write_and_upload(bucket, "t1", tmp_path / "local", make_series(3, T0, T0 + HOUR))
    updated = read_bucket_index(bucket, "t1").updated_at
    now = [time.time()]
    cfg = BucketStoreConfig(bucket_index=BucketIndexConfig(max_stale_period=600))
    gw = StoreGateway(cfg, bucket, tmp_path / "sync", now=lambda: now[0])
    gw.sync()
    finder = BucketIndexBlocksFinder(bucket, max_stale_period_s=600, clock=lambda: now[0])
    assert len(gw.querier("t1", T0, T0 + HOUR).select([])) == 3
    assert len(finder.blocks("t1", T0, T0 + HOUR)) == 1

    now[0] = updated + 601  # the compactor stopped writing the index 10 minutes ago
    with pytest.raises(BucketIndexTooOldError, match="err-mimir-bucket-index-too-old"):
        gw.querier("t1", T0, T0 + HOUR)
    with pytest.raises(BucketIndexTooOldError, match="staleness period of 10m0s"):
        gw.blocks_querier("t1", T0, T0 + HOUR, [b.id for b in gw.blocks("t1")])
    with pytest.raises(BucketIndexTooOldError):
        finder.blocks("t1", T0, T0 + HOUR)
    # A tenant without an index is not an error: it has no blocks yet.
    assert finder.blocks("nobody", T0, T0 + HOUR) == []
    assert gw.querier("nobody", T0, T0 + HOUR).select([]) == []
