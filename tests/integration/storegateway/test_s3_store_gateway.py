"""The store-gateway reading blocks from S3 (moto in server mode on loopback)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.integration.objstore.conftest import MotoS3
from tests.unit.storegateway.sg_helpers import HOUR, T0, make_series, metric, write_and_upload
from tidewell.model.matchers import Matcher, MatchType
from tidewell.objstore import BucketConfig, BucketUnavailableError, new_bucket
from tidewell.storegateway.config import BucketStoreConfig
from tidewell.storegateway.gateway import StoreGateway
from tidewell.tool.backfill import main as backfill
from tidewell.tsdb.block import BlockReader, write_block

pytestmark = pytest.mark.timeout(90)


def s3_config(moto: MotoS3, bucket_name: str) -> BucketConfig:
    cfg = BucketConfig(backend="s3")
    cfg.s3.endpoint = moto.endpoint
    cfg.s3.insecure = True
    cfg.s3.bucket_name = bucket_name
    cfg.s3.access_key_id = "k"
    cfg.s3.secret_access_key = "s"
    cfg.s3.max_retries = 1
    return cfg


def test_select_from_s3_with_ranged_reads(
    moto_s3: MotoS3, s3_bucket_name: str, tmp_path: Path
) -> None:
    bucket = new_bucket(s3_config(moto_s3, s3_bucket_name), tmp_path, component="sg-s3")
    local = tmp_path / "local"
    for k in range(2):
        series = make_series(300, T0 + 2 * k * HOUR, T0 + 2 * (k + 1) * HOUR, seed=k)
        write_and_upload(bucket, "t1", local, series)
    gw = StoreGateway(BucketStoreConfig(chunks_page_size_bytes=4096), bucket, tmp_path / "sync")
    gw.sync()
    sel = [Matcher(MatchType.REGEX, "i", "012."), Matcher(MatchType.EQUAL, "job", "j1")]
    got = gw.querier("t1", T0 + HOUR, T0 + 3 * HOUR).select(sel)
    want: dict = {}
    for b in sorted(local.iterdir()):
        with BlockReader(b) as r:
            for s in r.querier(T0 + HOUR, T0 + 3 * HOUR).select(sel):
                want.setdefault(s.labels, []).append(s)
    assert len(got) == 3 and [s.labels for s in got] == sorted(want)
    for s in got:
        parts = want[s.labels]
        np.testing.assert_array_equal(s.timestamps, np.concatenate([w.timestamps for w in parts]))
        np.testing.assert_array_equal(s.values, np.concatenate([w.values for w in parts]))
    # Chunks came through ranged GETs, a small part of the segment files.
    seg_bytes = sum(
        bucket.attributes(f"t1/{b.name}/chunks/000001").size for b in local.iterdir()
    )
    fetched = metric("thanos_objstore_bucket_operation_fetched_bytes_total",
                     component="sg-s3", operation="get_range")
    assert 0 < fetched < seg_bytes / 10
    bucket.close()


def test_backfill_to_s3_and_server_down(
    moto_factory, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    moto = moto_factory()
    moto.create_bucket("tw-backfill")
    cfg = s3_config(moto, "tw-backfill")
    blocks = tmp_path / "blocks"
    write_block(blocks, make_series(20, T0, T0 + 2 * HOUR), min_time=T0, max_time=T0 + 2 * HOUR)
    flags = ["-blocks-storage.backend=s3", f"-blocks-storage.s3.endpoint={moto.endpoint}",
             "-blocks-storage.s3.insecure=true", "-blocks-storage.s3.bucket-name=tw-backfill",
             "-blocks-storage.s3.access-key-id=k", "-blocks-storage.s3.secret-access-key=s"]
    assert backfill(["--tenant", "t1", *flags, "--no-progress", str(blocks)]) == 0
    bucket = new_bucket(cfg, tmp_path)
    gw = StoreGateway(BucketStoreConfig(), bucket, tmp_path / "sync")
    gw.sync()
    sel = [Matcher(MatchType.EQUAL, "__name__", "m")]
    assert sum(len(s) for s in gw.querier("t1", T0, T0 + 2 * HOUR).select(sel)) == 20 * 480
    # With the server gone, a failed sync keeps the blocks it has, whose cached index
    # and chunks still answer; a fresh gateway fails its first sync and is not ready.
    moto.server.stop()
    with pytest.raises(BucketUnavailableError):
        gw.sync()
    assert len(gw.blocks("t1")) == 1
    one = gw.querier("t1", T0, T0 + 2 * HOUR).select([Matcher(MatchType.EQUAL, "i", "0003")])
    assert len(one) == 1 and len(one[0]) == 480
    gw2 = StoreGateway(BucketStoreConfig(), bucket, tmp_path / "sync2")
    with pytest.raises(BucketUnavailableError):
        gw2.sync()
    assert gw2.ready()[0] is False
    bucket.close()
