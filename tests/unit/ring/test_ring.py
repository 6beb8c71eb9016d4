"""Partition ring: tokens, lookups, shuffle sharding, lifecycler states, KV watch."""

from __future__ import annotations

import asyncio

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.metrics import metric_value
from tidewell.ring import (
    InMemoryKV,
    PartitionInstanceLifecycler,
    PartitionRing,
    PartitionRingConfig,
    PartitionRingDesc,
    PartitionRingWatcher,
    PartitionState,
    partition_tokens,
)
from tidewell.ring.metrics import PARTITIONS


def ring_of(states: dict[int, PartitionState]) -> PartitionRing:
    desc = PartitionRingDesc()
    for pid, state in states.items():
        desc.add_partition(pid, state, 0.0)
    return PartitionRing(desc)


def test_tokens_are_dskit_spread_minimizing():
    t0 = partition_tokens(0)
    assert len(t0) == 512
    assert t0[:3] == [0, 8388608, 16777216]  # i * (2^32 / 512 / 8) * 8
    t1 = partition_tokens(1)
    assert t1[0] == 4194304  # splits the largest ranges of partition 0 in half
    all_tokens = [t for p in range(8) for t in partition_tokens(p)]
    assert len(set(all_tokens)) == 8 * 512
    assert partition_tokens(3) == partition_tokens(3)


def test_tokens_spread_ownership_evenly():
    n = 6
    toks = sorted((t, p) for p in range(n) for t in partition_tokens(p))
    owned = np.zeros(n)
    for i, (t, p) in enumerate(toks):
        prev = toks[i - 1][0]
        owned[p] += (t - prev) % (1 << 32)
    assert owned.max() / owned.min() < 1.05


def test_active_partition_for_first_token_after_key_skipping_inactive():
    ring = ring_of({0: PartitionState.ACTIVE, 1: PartitionState.ACTIVE})
    t1 = partition_tokens(1)[0]
    assert ring.active_partition_for(t1 - 1) == 1
    assert ring.active_partition_for(t1) == 0  # strictly greater than the key, as dskit
    assert ring.active_partition_for(0xFFFFFFFF) == 0  # wraps around
    ring2 = ring_of({0: PartitionState.ACTIVE, 1: PartitionState.INACTIVE})
    assert ring2.active_partition_for(t1 - 1) == 0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=50))
def test_vectorised_lookup_matches_single(keys):
    ring = ring_of({p: PartitionState.ACTIVE for p in range(4)})
    arr = ring.active_partitions_for(np.asarray(keys, dtype=np.uint32))
    assert arr.tolist() == [ring.active_partition_for(k) for k in keys]


@settings(max_examples=30, deadline=None)
@given(st.text(min_size=1, max_size=20), st.integers(1, 5))
def test_shuffle_shard_is_stable_and_sized(tenant, size):
    states = {p: PartitionState.ACTIVE for p in range(8)}
    a = ring_of(states).shuffle_shard(tenant, size).active_partition_ids
    b = ring_of(states).shuffle_shard(tenant, size).active_partition_ids
    assert a == b
    assert len(a) == size


def test_shuffle_shard_consistency_when_partition_added():
    before = ring_of({p: PartitionState.ACTIVE for p in range(8)})
    after = ring_of({p: PartitionState.ACTIVE for p in range(9)})
    changed = 0
    for i in range(50):
        a = set(before.shuffle_shard(f"tenant-{i}", 3).active_partition_ids)
        b = set(after.shuffle_shard(f"tenant-{i}", 3).active_partition_ids)
        assert len(a - b) <= 1
        changed += a != b
    assert changed < 50


def test_lifecycler_pending_active_inactive():
    async def body():
        kv = InMemoryKV()
        now = [1000.0]
        watcher = PartitionRingWatcher(kv)
        await watcher.start()
        cfg = PartitionRingConfig(min_partition_owners_duration=10.0)
        lc = PartitionInstanceLifecycler(kv, cfg, clock=lambda: now[0])
        await lc.register(7, "ingester-zone-a-7")
        assert watcher.partition_ring().partition_ids(PartitionState.PENDING) == [7]
        await lc.reconcile()
        assert (await lc.downscale_state())[0] is PartitionState.PENDING
        now[0] += 10
        await lc.reconcile()
        assert watcher.partition_ring().active_partition_ids == [7]
        assert metric_value(PARTITIONS, "ACTIVE") == 1
        await lc.prepare_downscale()
        assert await lc.downscale_state() == (PartitionState.INACTIVE, 1010.0)
        assert watcher.partition_ring().active_partition_ids == []
        await lc.cancel_downscale()
        assert watcher.partition_ring().active_partition_ids == [7]
        # Re-registering an existing partition keeps its state.
        lc2 = PartitionInstanceLifecycler(kv, cfg, clock=lambda: now[0])
        await lc2.register(7, "ingester-zone-b-7")
        desc = await kv.get("ingester-partitions")
        assert set(desc.owners_of(7)) == {"ingester-zone-a-7", "ingester-zone-b-7"}
        assert desc.partitions[7].state is PartitionState.ACTIVE

    asyncio.run(body())


def test_inactive_partition_without_owners_is_deleted_after_grace():
    async def body():
        kv = InMemoryKV()
        now = [0.0]
        cfg = PartitionRingConfig(min_partition_owners_duration=0.0,
                                  delete_inactive_partition_after=100.0)
        lc = PartitionInstanceLifecycler(kv, cfg, clock=lambda: now[0])
        await lc.register(1, "ingester-1")
        await lc.reconcile()
        await lc.prepare_downscale()
        await lc.unregister_owner()
        lc.owner_id = None
        now[0] = 50.0
        await lc.reconcile()
        assert 1 in (await kv.get("ingester-partitions")).partitions
        now[0] = 101.0
        await lc.reconcile()
        assert 1 not in (await kv.get("ingester-partitions")).partitions

    asyncio.run(body())


def test_kv_values_are_copies():
    kv = InMemoryKV()
    seen = []
    cancel = kv.watch_key("k", seen.append)
    asyncio.run(kv.cas("k", lambda old: ({"a": 1}, False)))
    v = asyncio.run(kv.get("k"))
    v["a"] = 2
    assert asyncio.run(kv.get("k")) == {"a": 1}
    assert seen == [{"a": 1}]
    cancel()
    asyncio.run(kv.cas("k", lambda old: ({"a": 3}, False)))
    assert len(seen) == 1


def test_lifecycler_loop_activates_partition():
    async def body():
        kv = InMemoryKV()
        cfg = PartitionRingConfig(min_partition_owners_duration=0.0, lifecycler_poll_period=0.01)
        lc = PartitionInstanceLifecycler(kv, cfg)
        await lc.register(2, "ingester-2")
        lc.start()
        try:
            for _ in range(200):
                if (await lc.downscale_state())[0] is PartitionState.ACTIVE:
                    break
                await asyncio.sleep(0.01)
            assert (await lc.downscale_state())[0] is PartitionState.ACTIVE
        finally:
            await lc.stop()

    asyncio.run(asyncio.wait_for(body(), 10))
