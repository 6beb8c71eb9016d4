"""compactor_tenant_shard_size: a tenant's jobs and cleanup stay on its N compactors
(Mimir's shuffle sharding of the compactor ring); 0 spreads them over all."""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np

from tidewell.compactor.compactor import Compactor
from tidewell.compactor.config import CompactorConfig
from tidewell.compactor.job import upload_block
from tidewell.compactor.planner import Job, PlanBlock
from tidewell.compactor.sharding import job_owner, tenant_in_shard, tenant_owner, tenant_subring
from tidewell.model import Labels
from tidewell.objstore import FilesystemBucket, tenant_bucket
from tidewell.ring import InstanceDesc, InstanceRing, InstanceRingDesc, InstanceState
from tidewell.ring.config import InstanceRingConfig
from tidewell.ring.instance_lifecycler import generate_tokens
from tidewell.tsdb.block import write_block

H = 3_600_000
T0 = 1_699_920_000_000


def ring_of(names: list[str], seed: int = 7) -> InstanceRing:
    rng, desc, taken = random.Random(seed), InstanceRingDesc(), set[int]()
    for name in names:
        tokens = generate_tokens(512, taken, rng)
        taken |= set(tokens)
        desc.instances[name] = InstanceDesc(name, f"{name}:1", "", InstanceState.ACTIVE,
                                            tokens, time.time(), time.time())
    return InstanceRing(desc, InstanceRingConfig(replication_factor=1, heartbeat_timeout=0))


def jobs(n: int) -> list[Job]:
    return [Job("0@{}", 2 * H, T0 + k * 2 * H, "", (PlanBlock(f"b{k}", T0, T0 + 1),))
            for k in range(n)]


def test_jobs_and_cleanup_stay_in_the_tenants_shard() -> None:
    names = [f"compactor-{i}" for i in range(5)]
    ring = ring_of(names)
    for tenant in [f"tenant-{i}" for i in range(20)]:
        shard = set(tenant_subring(ring, tenant, 2).desc.instances)
        assert len(shard) == 2
        assert {n for n in names if tenant_in_shard(ring, tenant, 2, n)} == shard
        assert {job_owner(ring, tenant, j, 2) for j in jobs(200)} == shard
        assert tenant_owner(ring, tenant, 2) in shard
        assert tenant_subring(ring, tenant, 2).desc.instances.keys() == shard  # stable
    # Tenants land on different compactors; 0 (and >= ring size) means all of them.
    assert len({frozenset(tenant_subring(ring, f"tenant-{i}", 2).desc.instances)
                for i in range(20)}) > 3
    assert {job_owner(ring, "tenant-0", j, 0) for j in jobs(200)} == set(names)
    assert {job_owner(ring, "tenant-0", j, 9) for j in jobs(200)} == set(names)
    assert all(tenant_in_shard(ring, "tenant-0", 0, n) for n in names)


def test_one_compactor_more_changes_at_most_one_member() -> None:
    names = [f"compactor-{i}" for i in range(6)]
    small, big = ring_of(names[:5]), ring_of(names)
    for tenant in [f"tenant-{i}" for i in range(20)]:
        before = set(tenant_subring(small, tenant, 3).desc.instances)
        after = set(tenant_subring(big, tenant, 3).desc.instances)
        assert len(before - after) <= 1


def test_only_the_tenants_compactor_plans_and_compacts_it(tmp_path: Path) -> None:
    bucket = FilesystemBucket(tmp_path / "bucket", fsync=False)
    ts = np.arange(T0, T0 + 2 * H, 60_000, dtype=np.int64)
    for zone in ("a", "b"):
        path, _ = write_zone(tmp_path / zone, ts)
        upload_block(tenant_bucket(bucket, "t1"), path)
    names = [f"compactor-{i}" for i in range(3)]
    ring = ring_of(names)
    (mine,) = tenant_subring(ring, "t1", 1).desc.instances
    now = time.time() + 3600
    planned: dict[str, list[str]] = {n: [] for n in names}

    def compactor(name: str) -> Compactor:
        c = Compactor(bucket, CompactorConfig(block_ranges=["2h"]), tmp_path / name,
                      clock=lambda: now,
                      owns_job=lambda t, j: job_owner(ring, t, j, 1) == name,
                      plans_tenant=lambda t: tenant_in_shard(ring, t, 1, name))
        plan = c.plan_tenant
        c.plan_tenant = lambda t: planned[name].append(t) or plan(t)  # type: ignore[method-assign]
        return c

    for name in names:
        assert compactor(name).compact()
    assert {n: bool(p) for n, p in planned.items()} == {n: n == mine for n in names}
    (block,) = compactor(mine).live_blocks("t1")
    assert len(block.sources) == 2  # the two zone copies, merged by the shard's compactor


def write_zone(local: Path, ts: np.ndarray):  # type: ignore[no-untyped-def]
    series = [(Labels.from_dict({"__name__": "m"}), ts, ts / 1e3)]
    return write_block(local, series, min_time=T0, max_time=T0 + 2 * H)
