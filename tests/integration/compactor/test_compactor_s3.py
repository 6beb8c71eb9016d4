"""The compactor on a real S3-compatible server (moto): two zones' overlapping blocks of
two partitions become one block per range with one copy of every sample, the bucket index
lists exactly the live blocks, retention deletes old blocks, and store-gateway queries
answer the same before, during and after compaction."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from tests.support.peers import promtool3_binary
from tidewell.compactor.cleaner import TenantLimits
from tidewell.compactor.compactor import Compactor
from tidewell.compactor.config import CompactorConfig
from tidewell.compactor.job import download_block, upload_block
from tidewell.model import Labels, Matcher, MatchType
from tidewell.model.histogram import Histogram
from tidewell.objstore import Bucket, new_bucket, tenant_bucket
from tidewell.objstore.bucketindex import read_bucket_index
from tidewell.storegateway.config import BucketStoreConfig
from tidewell.storegateway.gateway import StoreGateway
from tidewell.tsdb.block import BlockReader, BlockWriter
from tidewell.tsdb.block.chunking import DEFAULT_CHUNK_RANGE_MS as R
from tidewell.tsdb.head.compact import interleave
from tidewell.tsdb.head.hist_store import chunk_histograms
from tidewell.tsdb.head.open_chunks import split_chunks

from ..ingester.test_shipper import s3_config
from ..objstore.conftest import MotoS3, moto_factory  # noqa: F401 - fixture

pytestmark = [pytest.mark.timeout(300)]

H = 3_600_000
T0 = 1_699_920_000_000  # a multiple of 24h
STEP = 30_000
WINDOWS = 13  # 26h of 2h blocks: one full 24h window and the start of the next


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _hist(i: int) -> Histogram:
    return Histogram(schema=0, zero_threshold=2.0**-128, zero_count=1.0, count=3.0 + i,
                     sum=0.5 * i, positive_spans=((0, 2),), positive_buckets=(1.0, 1.0 + i),
                     integer=True)


def _series(partition: int) -> list[Labels]:
    return sorted(Labels.from_dict({"__name__": "m", "p": str(partition), "i": f"{i:02d}"})
                  for i in range(partition * 20, partition * 20 + 20))


def _samples(labels: Labels, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    ts = np.arange(lo, hi, STEP, dtype=np.int64)
    return ts, (ts - T0) / 1000.0 + int(labels.get("i"))


def _write_zone_block(local: Path, partition: int, window: int, skip: int) -> Path:
    """The 2h block one zone's ingester of ``partition`` cuts; it misses its first ``skip``
    samples of the first series (as after a restart), so zone copies are not identical."""
    lo = T0 + window * 2 * H
    w = BlockWriter(local, min_time=lo, max_time=lo + 2 * H)
    for n, labels in enumerate(_series(partition)):
        ts, vs = _samples(labels, lo, lo + 2 * H)
        if n == 0:
            ts, vs = ts[skip:], vs[skip:]
        hists = []
        if n == 1:  # a series holding histograms beside its floats
            hts = [int(t) + 1 for t in ts[::4]]
            hists = chunk_histograms(hts, [_hist((t - T0) // STEP) for t in hts], R)
        w.add_series_chunks(labels, interleave(split_chunks(ts, vs, R), hists, R))
    w.finish()
    return w.path


def _upload_two_zones(bucket: Bucket, tenant: str, local: Path) -> int:
    tb = tenant_bucket(bucket, tenant)
    n = 0
    for window in range(WINDOWS):
        for partition in (0, 1):
            for zone, skip in (("a", 0), ("b", 7)):
                upload_block(tb, _write_zone_block(local / zone, partition, window, skip))
                n += 1
    return n


def _query(gw: StoreGateway, tenant: str) -> dict:
    gw.sync()
    q = gw.querier(tenant, T0, T0 + WINDOWS * 2 * H)
    out = {}
    for s in q.select([Matcher(MatchType.EQUAL, "__name__", "m")]):
        hs = [] if s.histograms is None else list(zip(s.histograms.timestamps.tolist(),
                                                      s.histograms.values, strict=True))
        out[s.labels] = (s.timestamps.tolist(), s.values.tolist(), hs)
    return out


def _expected() -> dict:
    out = {}
    for p in (0, 1):
        for n, labels in enumerate(_series(p)):
            ts, vs = _samples(labels, T0, T0 + WINDOWS * 2 * H)
            hs = []
            if n == 1:
                hs = [(int(t) + 1, _hist(int(t - T0) // STEP))
                      for w in range(WINDOWS)
                      for t in ts[(ts >= T0 + w * 2 * H) & (ts < T0 + (w + 1) * 2 * H)][::4]]
            out[labels] = (ts.tolist(), vs.tolist(), hs)
    return out


def _new_bucket(s3: MotoS3, tmp_path: Path) -> Bucket:
    """A bucket of its own: moto servers in one process share their state."""
    name = f"compactor-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(name)
    return new_bucket(s3_config(s3.endpoint, name), tmp_path / "unused")


def _promtool_dump(bucket: Bucket, tenant: str, blocks: list, into: Path) -> list[str]:
    """``promtool tsdb dump`` (Prometheus 3) of a copy of the blocks, lines sorted."""
    tb = tenant_bucket(bucket, tenant)
    for b in blocks:
        download_block(tb, b.block_id, into)
    (into / "wal").mkdir()  # promtool opens the directory as a TSDB
    out = subprocess.run(
        [promtool3_binary(), "tsdb", "dump", f"--sandbox-dir-root={into}", str(into)],
        capture_output=True, text=True, timeout=240, check=True).stdout
    lines = sorted(out.splitlines())
    assert len(lines) == sum(len(ts) + len(hs) for ts, _, hs in _expected().values())
    return lines


def _block_dirs(bucket: Bucket, tenant: str) -> set[str]:
    return {p.rstrip("/") for p in tenant_bucket(bucket, tenant).list_dir("").prefixes} - {
        "markers"}


def test_two_zones_compacted_to_one_copy_per_range_and_queries_unchanged(
    moto_factory, tmp_path: Path  # noqa: F811
) -> None:
    s3 = moto_factory()
    bucket = _new_bucket(s3, tmp_path)
    tenant = "team-a"
    uploaded = _upload_two_zones(bucket, tenant, tmp_path / "local")
    assert uploaded == WINDOWS * 4

    clock = Clock(time.time() + 3600)  # upload times are the wall clock; past the wait period
    comp = Compactor(bucket, CompactorConfig(), tmp_path / "compactor", clock=clock)
    gw = StoreGateway(BucketStoreConfig(ignore_deletion_mark_delay=3600), bucket,
                      tmp_path / "sync", now=clock)

    comp.clean()  # the cleaner writes the first bucket index
    assert len(read_bucket_index(bucket, tenant).blocks) == uploaded
    dump_before = _promtool_dump(bucket, tenant, comp.live_blocks(tenant), tmp_path / "before")
    before = _query(gw, tenant)
    assert before == _expected()

    assert comp.compact()
    live = comp.live_blocks(tenant)
    assert sorted((b.min_time - T0, b.max_time - T0, b.level) for b in live) == [
        (0, 24 * H, 4), (24 * H, 26 * H, 2)]
    comp.clean()
    index = read_bucket_index(bucket, tenant)
    assert {b.block_id for b in index.blocks} - {m.block_id for m in index.block_deletion_marks} \
        == {b.block_id for b in live}
    # During: sources are marked but still served; samples counted once.
    assert _query(gw, tenant) == before

    clock.t += 2 * 3600  # past the store-gateway's ignore-deletion-marks-delay
    comp.clean()  # as every -compactor.cleanup-interval: readers refuse an index > 1h old
    assert _query(gw, tenant) == before
    assert {b.id for b in gw.blocks(tenant)} == {b.block_id for b in live}

    clock.t += 12 * 3600  # past the compactor's deletion delay
    result = comp.clean_tenant(tenant)
    # level-1 sources, the 12 level-2 blocks of the first day and its 2 level-3 blocks
    assert len(result.deleted) == uploaded + 12 + 2
    index = read_bucket_index(bucket, tenant)
    assert {b.block_id for b in index.blocks} == {b.block_id for b in live}
    assert index.block_deletion_marks == []
    assert _block_dirs(bucket, tenant) == {b.block_id for b in live}
    assert list(tenant_bucket(bucket, tenant).iter_prefix("markers")) == []
    assert _query(gw, tenant) == before

    # promtool reads the compacted blocks as it read the two zones' sources.
    assert _promtool_dump(bucket, tenant, live, tmp_path / "after") == dump_before

    # Exactly one copy of every sample in the bucket.
    want = _expected()
    total = 0
    for b in live:
        path = download_block(tenant_bucket(bucket, tenant), b.block_id, tmp_path / "check")
        with BlockReader(path) as r:
            total += r.meta.num_samples
            assert r.meta.source == "compactor"
    assert total == sum(len(ts) + len(hs) for ts, _, hs in want.values())


def test_retention_removes_old_blocks_of_one_tenant_only(
    moto_factory, tmp_path: Path  # noqa: F811
) -> None:
    s3 = moto_factory()
    bucket = _new_bucket(s3, tmp_path)
    for tenant in ("short", "forever"):
        tb = tenant_bucket(bucket, tenant)
        for window in range(3):
            upload_block(tb, _write_zone_block(tmp_path / tenant, 0, window, 0))
    # Now is T0+7h: of the blocks ending at T0+2h, 4h, 6h, only the first is past 4h retention.
    clock = Clock((T0 + 7 * H) / 1000)
    retention = {"short": TenantLimits(blocks_retention_period=4 * 3600)}
    comp = Compactor(bucket, CompactorConfig(), tmp_path / "c", clock=clock,
                     limits=lambda t: retention.get(t, TenantLimits()))
    gw = StoreGateway(BucketStoreConfig(ignore_deletion_mark_delay=3600), bucket,
                      tmp_path / "sync", now=clock)
    comp.clean()
    short = read_bucket_index(bucket, "short")
    assert [m.block_id for m in short.block_deletion_marks] == [short.blocks[0].block_id]
    assert read_bucket_index(bucket, "forever").block_deletion_marks == []

    clock.t += 2 * 3600
    comp.clean()  # as every -compactor.cleanup-interval: readers refuse an index > 1h old
    got = _query(gw, "short")
    assert min(ts[0] for ts, _, _ in got.values()) == T0 + 2 * H  # gone from queries
    assert min(ts[0] for ts, _, _ in _query(gw, "forever").values()) == T0

    clock.t += 12 * 3600
    comp.clean()  # deletes the first block; the others are now past retention too: marked
    assert len(_block_dirs(bucket, "short")) == 2
    short = read_bucket_index(bucket, "short")
    assert len(short.blocks) == len(short.block_deletion_marks) == 2
    assert len(_block_dirs(bucket, "forever")) == 3
