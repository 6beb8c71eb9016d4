"""While a compaction is half done (successor uploaded, sources not yet marked),
store-gateways and queriers read the successor alone and every sample once.

The successor is made by the compactor's own steps (download, merge, upload) and
the run stops where a SIGKILL before marking would leave it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import REGISTRY

from tests.integration.querier.conftest import free_port, internal_app, serve  # noqa: F401
from tests.integration.querier.test_blocks_store import ring_for
from tidewell.compactor.job import download_block, upload_block
from tidewell.model import Labels, Matcher
from tidewell.objstore import FilesystemBucket, tenant_bucket
from tidewell.objstore.bucketindex import update_bucket_index
from tidewell.querier.blocks import BlocksStoreQueryable, BucketIndexBlocksFinder
from tidewell.storegateway.config import BucketStoreConfig
from tidewell.storegateway.gateway import StoreGateway
from tidewell.storegateway.sharding import RingShardingStrategy
from tidewell.tsdb.block import write_block
from tidewell.tsdb.block.merge import merge_blocks

pytestmark = pytest.mark.timeout(120)

H = 3_600_000
T0 = 1_699_920_000_000
TENANT = "t1"
N_SERIES = 20
SEL = [Matcher.equal("__name__", "m")]


def _metric(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def _half_compacted(bucket: FilesystemBucket, work: Path, windows: int = 3
                    ) -> tuple[list[str], list[str]]:
    """Each window's two zone copies, then their merged successors, uploaded and indexed
    with no source marked. Returns (source IDs, successor IDs)."""
    tb = tenant_bucket(bucket, TENANT)
    sources, successors = [], []
    for w in range(windows):
        lo = T0 + w * 2 * H
        ts = np.arange(lo, lo + 2 * H, 30_000, dtype=np.int64)
        series = [(Labels.from_dict({"__name__": "m", "i": f"{i:03d}"}), ts, ts / 1e3 + i)
                  for i in range(N_SERIES)]
        ids = []
        for zone in ("a", "b"):
            path, meta = write_block(work / "zones" / zone, series, min_time=lo,
                                     max_time=lo + 2 * H)
            upload_block(tb, path)
            ids.append(meta.ulid)
        sources += ids
    for b in sources:  # uploaded two hours ago: past any upload grace
        meta_path = bucket.root / TENANT / b / "meta.json"
        os.utime(meta_path, (time.time() - 7200, time.time() - 7200))
    update_bucket_index(bucket, TENANT)
    for w in range(windows):
        lo = T0 + w * 2 * H
        ids = sources[2 * w: 2 * w + 2]
        srcs = [download_block(tb, b, work / "dl") for b in ids]
        path, meta = merge_blocks(srcs, work / "out", min_time=lo, max_time=lo + 2 * H,
                                  thanos_labels={}, chunk_range=2 * H)
        assert sorted(meta.compaction_sources) == sorted(ids)
        upload_block(tb, path)
        successors.append(meta.ulid)
    update_bucket_index(bucket, TENANT)
    return sources, successors


def _samples(series: list) -> tuple[int, int]:  # type: ignore[type-arg]
    return len(series), sum(len(s.timestamps) for s in series)


def test_single_gateway_swaps_sources_for_successor_in_one_sync(tmp_path: Path) -> None:
    bucket = FilesystemBucket(tmp_path / "bucket", fsync=False)
    gw = StoreGateway(BucketStoreConfig(), bucket, tmp_path / "sync")
    tb = tenant_bucket(bucket, TENANT)
    lo = T0
    ts = np.arange(lo, lo + 2 * H, 30_000, dtype=np.int64)
    series = [(Labels.from_dict({"__name__": "m", "i": f"{i:03d}"}), ts, ts / 1e3)
              for i in range(N_SERIES)]
    zone_ids = []
    for zone in ("a", "b"):
        path, meta = write_block(tmp_path / zone, series, min_time=lo, max_time=lo + 2 * H)
        upload_block(tb, path)
        zone_ids.append(meta.ulid)
    update_bucket_index(bucket, TENANT)
    gw.sync()
    assert sorted(b.id for b in gw.blocks(TENANT)) == sorted(zone_ids)

    srcs = [download_block(tb, b, tmp_path / "dl") for b in zone_ids]
    path, meta = merge_blocks(srcs, tmp_path / "out", min_time=lo, max_time=lo + 2 * H,
                              thanos_labels={}, chunk_range=2 * H)
    upload_block(tb, path)
    update_bucket_index(bucket, TENANT)  # sources not marked: the compactor "died" here
    gw.sync()
    assert [b.id for b in gw.blocks(TENANT)] == [meta.ulid]
    assert REGISTRY.get_sample_value("cortex_blocks_meta_synced", {"state": "duplicate"}) == 2
    q = gw.querier(TENANT, lo, lo + 2 * H)
    assert q.queried_blocks == [meta.ulid]
    got = q.select(SEL)
    assert _samples(got) == (N_SERIES, N_SERIES * len(ts))
    # The replaced sources' local files went with them.
    assert not any((tmp_path / "sync" / TENANT / z).exists() for z in zone_ids)


def test_sharded_gateways_and_querier_read_each_sample_once(tmp_path: Path, serve) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    bucket = FilesystemBucket(tmp_path / "bucket", fsync=False)
    sources, successors = _half_compacted(bucket, tmp_path / "work")
    ports = [free_port() for _ in range(3)]
    ring = ring_for(ports)
    cfg = BucketStoreConfig(sync_interval=60.0)  # sharded gateways wait 3 x 60 s
    now = [time.time()]
    gateways = [StoreGateway(cfg, bucket, tmp_path / f"sync-{i}", now=lambda: now[0],
                             sharding=RingShardingStrategy(ring, f"sg-{i}"))
                for i in range(3)]
    for gw, port in zip(gateways, ports, strict=True):
        gw.sync()
        serve(internal_app(gw), port)
    loaded = set().union(*({b.id for b in gw.blocks(TENANT)} for gw in gateways))
    # Successors just uploaded: their owners may not have them yet, so sources stay.
    assert loaded == set(sources) | set(successors)
    span = (T0, T0 + 6 * H)
    want = (N_SERIES, N_SERIES * 3 * 240)

    def query(grace: float) -> tuple[int, int, float]:
        qa = BlocksStoreQueryable(BucketIndexBlocksFinder(bucket), ring,
                                  upload_grace_s=grace, timeout_s=10, clock=lambda: now[0])
        try:
            before = _metric("cortex_querier_blocks_queried_total")
            got = qa.querier(TENANT, *span).select(SEL)
            return *_samples(got), _metric("cortex_querier_blocks_queried_total") - before
        finally:
            qa.close()

    # During the grace: sources and successors asked, samples merged once.
    assert query(180.0) == (*want, 9)
    # Past it: gateways serve the successors alone, the querier asks for them alone.
    now[0] += 181
    for gw in gateways:
        gw.sync()
    loaded = set().union(*({b.id for b in gw.blocks(TENANT)} for gw in gateways))
    assert loaded == set(successors)
    assert query(180.0) == (*want, 3)
    # A querier with a longer grace still asks for the (long required) sources: their
    # gateways dropped them, but the successors answered, so the consistency check passes.
    assert query(3600.0) == (*want, 9)
