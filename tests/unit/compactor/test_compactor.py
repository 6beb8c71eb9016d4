"""The compactor service on a filesystem bucket: ring split, crash recovery, cleaner."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
from prometheus_client import REGISTRY

from tidewell.compactor.cleaner import TenantLimits
from tidewell.compactor.compactor import Compactor
from tidewell.compactor.config import CompactorConfig, CompactorRingConfig
from tidewell.compactor.job import download_block, upload_block
from tidewell.compactor.sharding import COMPACTOR_RING_KEY, job_owner, tenant_owner
from tidewell.config import Config
from tidewell.model import Labels
from tidewell.modules import build, resolve
from tidewell.objstore import FilesystemBucket, tenant_bucket
from tidewell.objstore.bucketindex import read_bucket_index
from tidewell.ring.instance_lifecycler import InstanceLifecycler
from tidewell.ring.instance_ring import InstanceRingWatcher
from tidewell.ring.kv import InMemoryKV
from tidewell.tsdb.block import BlockReader, write_block
from tidewell.tsdb.block.merge import merge_blocks

H = 3_600_000
T0 = 1_699_920_000_000


def _zone_copies(bucket: FilesystemBucket, tenant: str, local: Path, window: int = 0) -> list[str]:
    lo = T0 + window * 2 * H
    ts = np.arange(lo, lo + 2 * H, 60_000, dtype=np.int64)
    series = [(Labels.from_dict({"__name__": "m", "t": tenant}), ts, ts / 1e3)]
    ids = []
    for zone in ("a", "b"):
        path, meta = write_block(local / tenant / zone, series, min_time=lo, max_time=lo + 2 * H)
        upload_block(tenant_bucket(bucket, tenant), path)
        ids.append(meta.ulid)
    return ids


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_two_compactors_on_one_ring_split_the_jobs_and_the_cleanup(tmp_path: Path) -> None:
    bucket = FilesystemBucket(tmp_path / "bucket")
    tenants = [f"tenant-{i}" for i in range(8)]
    for t in tenants:
        _zone_copies(bucket, t, tmp_path / "local")
    now = time.time() + 3600  # past the first-level wait period
    clock = lambda: now  # noqa: E731

    async def scenario() -> tuple[dict[str, list[str]], dict[str, float]]:
        kv = InMemoryKV()
        cfg = CompactorRingConfig(heartbeat_period=0)
        watcher = InstanceRingWatcher(kv, COMPACTOR_RING_KEY, cfg, name="compactor")
        await watcher.start()
        lcs = [InstanceLifecycler(kv, COMPACTOR_RING_KEY, cfg, instance_id=i, addr=f"{i}:1",
                                  name="compactor") for i in ("c-1", "c-2")]
        for lc in lcs:
            await lc.start()
        for _ in range(100):
            if len(watcher.instance_ring().healthy_instances()) == 2:
                break
            await asyncio.sleep(0.01)
        cleaned: dict[str, list[str]] = {}
        jobs: dict[str, float] = {}
        marked = _metric("cortex_compactor_blocks_marked_for_deletion_total", reason="compaction")
        for inst in ("c-1", "c-2"):
            comp = Compactor(
                bucket, CompactorConfig(), tmp_path / inst, clock=clock,
                owns_tenant=lambda t, i=inst: tenant_owner(watcher.instance_ring(), t) == i,
                owns_job=lambda t, j, i=inst: job_owner(watcher.instance_ring(), t, j) == i)
            before = _metric("cortex_compactor_runs_completed_total")
            ran = _metric("cortex_compactor_group_compactions_total")
            cleaned[inst] = [t for t in comp.tenants() if comp.owns_tenant(t)]
            assert await asyncio.to_thread(comp.compact)
            assert _metric("cortex_compactor_runs_completed_total") == before + 1
            jobs[inst] = _metric("cortex_compactor_group_compactions_total") - ran
            assert _metric("cortex_compactor_tenants_processing_succeeded") == len(tenants)
            assert _metric("cortex_compactor_tenants_discovered") == len(tenants)
            assert _metric("cortex_compactor_last_successful_run_timestamp_seconds") == clock()
        assert _metric("cortex_compactor_blocks_marked_for_deletion_total",
                       reason="compaction") == marked + 2 * len(tenants)
        for lc in lcs:
            await lc.stop()
        watcher.stop()
        return cleaned, jobs

    cleaned, jobs = asyncio.run(scenario())
    assert sorted(cleaned["c-1"] + cleaned["c-2"]) == tenants  # one cleaner per tenant
    assert cleaned["c-1"] and cleaned["c-2"]
    assert jobs["c-1"] + jobs["c-2"] == len(tenants) and jobs["c-1"] and jobs["c-2"]
    checker = Compactor(bucket, CompactorConfig(), tmp_path / "check", clock=clock)
    for t in tenants:
        live = checker.live_blocks(t)
        assert [(b.level, len(b.sources)) for b in live] == [(2, 2)]


def test_sources_left_unmarked_by_a_crash_are_marked_by_the_next_run(tmp_path: Path) -> None:
    bucket = FilesystemBucket(tmp_path / "bucket")
    tb = tenant_bucket(bucket, "t")
    ids = _zone_copies(bucket, "t", tmp_path / "local")
    # The job uploaded its block and died before marking the sources.
    srcs = [tmp_path / "local" / "t" / z / i for z, i in zip("ab", ids, strict=True)]
    path, meta = merge_blocks(srcs, tmp_path / "out", min_time=T0, max_time=T0 + 2 * H)
    upload_block(tb, path)
    comp = Compactor(bucket, CompactorConfig(), tmp_path / "c", clock=lambda: time.time() + 3600)
    assert comp.plan_tenant("t") == []
    assert {b.block_id for b in comp.live_blocks("t")} == {meta.ulid}
    index = comp.clean_tenant("t").index
    assert sorted(m.block_id for m in index.block_deletion_marks) == sorted(ids)


def test_cleaner_deletes_partial_blocks_after_their_delay_and_writes_gauges(
    tmp_path: Path,
) -> None:
    bucket = FilesystemBucket(tmp_path / "bucket")
    ids = _zone_copies(bucket, "t", tmp_path / "local")
    tb = tenant_bucket(bucket, "t")
    tb.delete(f"{ids[1]}/meta.json")  # an upload that died before meta.json
    now = [time.time()]
    comp = Compactor(bucket, CompactorConfig(), tmp_path / "c", clock=lambda: now[0],
                     limits=lambda _t: TenantLimits(partial_block_deletion_delay=3600))
    res = comp.clean_tenant("t")
    assert [b.block_id for b in res.index.blocks] == [ids[0]] and res.partials == 1
    assert res.marked == [] and tb.exists(f"{ids[1]}/index")
    assert _metric("cortex_bucket_blocks_partials_count", user="t") == 1
    now[0] += 3700
    assert comp.clean_tenant("t").marked == [ids[1]]  # old enough: marked
    assert comp.clean_tenant("t").deleted == [ids[1]]  # a marked partial block goes at once
    assert list(tb.iter_prefix(ids[1])) == []
    index = read_bucket_index(bucket, "t")
    assert [b.block_id for b in index.blocks] == [ids[0]] and index.block_deletion_marks == []
    assert _metric("cortex_bucket_blocks_count", user="t") == 1
    assert _metric("cortex_bucket_blocks_partials_count", user="t") == 0


def test_compactor_target_is_in_all_and_backend_and_serves_its_ring_page(tmp_path: Path) -> None:
    assert "compactor" in resolve(["all"]) and "compactor" in resolve(["backend"])
    config = Config(target=["compactor"])
    config.common.storage.path = str(tmp_path)

    async def built() -> list[str]:
        app = await build(config)
        return [getattr(r, "path", "") for r in app.routes]

    assert "/compactor/ring" in asyncio.run(built())


def test_split_and_merge_keeps_each_series_in_one_shard_block_per_range(tmp_path: Path) -> None:
    bucket = FilesystemBucket(tmp_path / "bucket")
    tb = tenant_bucket(bucket, "t")
    lo = T0
    ts = np.arange(lo, lo + 2 * H, 60_000, dtype=np.int64)
    series = sorted((Labels.from_dict({"__name__": "m", "i": str(i)}), ts, ts / 1e3 + i)
                    for i in range(40))
    for window in range(3):
        shifted = [(lbl, t + window * 2 * H, v) for lbl, t, v in series]
        for zone in "ab":
            path, _ = write_block(tmp_path / "local" / zone, shifted,
                                  min_time=lo + window * 2 * H, max_time=lo + (window + 1) * 2 * H)
            upload_block(tb, path)
    comp = Compactor(bucket, CompactorConfig(), tmp_path / "c", clock=lambda: time.time() + 3600,
                     limits=lambda _t: TenantLimits(split_and_merge_shards=2))
    assert comp.compact()
    live = comp.live_blocks("t")
    # Split at 2h, merged per shard; the 12h window is the newest and not full, so each
    # shard keeps its 2h blocks until it is.
    shards = sorted({b.shard_id for b in live})
    assert shards == ["1_of_2", "2_of_2"]
    seen: dict[str, set[str]] = {}
    total = 0
    for b in live:
        path = download_block(tb, b.block_id, tmp_path / "check")
        with BlockReader(path) as r:
            total += r.meta.num_samples
            assert r.meta.thanos_labels == {"__compactor_shard_id__": b.shard_id}
            for ref in r.index.all_postings().tolist():
                seen.setdefault(r.index.series(ref).labels.get("i"), set()).add(b.shard_id)
    assert len(seen) == 40 and all(len(s) == 1 for s in seen.values())  # one shard per series
    assert {next(iter(s)) for s in seen.values()} == {"1_of_2", "2_of_2"}
    assert total == 40 * len(ts) * 3  # every sample once
