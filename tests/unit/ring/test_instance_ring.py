"""Instance rings: lifecycler states and heartbeats, health by timeout, block sharding."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pytest
from ulid import ULID

from tests.support.metrics import metric_value
from tidewell.ring import (
    STORE_GATEWAY_RING_KEY,
    InMemoryKV,
    InstanceDesc,
    InstanceLifecycler,
    InstanceRing,
    InstanceRingDesc,
    InstanceRingWatcher,
    InstanceState,
    StoreGatewayShardingRingConfig,
    hash_block_id,
)
from tidewell.ring.instance_lifecycler import generate_tokens
from tidewell.ring.metrics import RING_MEMBER_HEARTBEATS, RING_MEMBERS
from tidewell.ring.testing import eventually


def sg_config(**kw):
    return StoreGatewayShardingRingConfig(**kw)


def ring_of(n: int, rf: int = 3, zones: int = 0, seed: int = 1, now: float = 1000.0):
    rng = random.Random(seed)
    desc = InstanceRingDesc()
    taken: set[int] = set()
    for i in range(n):
        toks = generate_tokens(512, taken, rng)
        taken |= set(toks)
        zone = f"zone-{'abc'[i % zones]}" if zones else ""
        desc.instances[f"sg-{i}"] = InstanceDesc(
            f"sg-{i}", f"10.0.0.{i}:9095", zone, InstanceState.ACTIVE, toks, now, now
        )
    cfg = sg_config(replication_factor=rf, zone_awareness_enabled=bool(zones))
    return InstanceRing(desc, cfg, name="store-gateway", clock=lambda: now)


BLOCKS = [str(ULID.from_timestamp(1_700_000_000 + i)) for i in range(600)]


def test_block_sharding_is_stable_and_replicated():
    ring = ring_of(4, rf=3)
    again = ring_of(4, rf=3)
    for b in BLOCKS[:50]:
        owners = [i.id for i in ring.block_owners(b)]
        assert len(owners) == 3 and len(set(owners)) == 3
        assert owners == [i.id for i in again.block_owners(b)]
    shards = ring.shard_blocks(BLOCKS)
    counts = {k: len(v) for k, v in shards.items()}
    assert sum(counts.values()) == 3 * len(BLOCKS)
    # 512 random tokens per instance spread 3 * 600 copies evenly over 4 instances.
    assert min(counts.values()) > 0.8 * 450 and max(counts.values()) < 1.2 * 450


def test_block_hash_uses_ulid_bytes():
    b = BLOCKS[0]
    assert hash_block_id(b) == hash_block_id(str(ULID.from_str(b)))
    assert hash_block_id(b) != hash_block_id(BLOCKS[1])
    assert 0 <= hash_block_id("not-a-ulid") < 2**32


def test_adding_an_instance_moves_few_blocks():
    before = ring_of(4, rf=1)
    after = ring_of(5, rf=1)  # same seed: the first 4 keep their tokens
    moved = sum(
        before.block_owners(b)[0].id != after.block_owners(b)[0].id for b in BLOCKS
    )
    assert 0 < moved < 0.35 * len(BLOCKS)  # about 1/5 move, all to the new one
    for b in BLOCKS:
        if before.block_owners(b)[0].id != after.block_owners(b)[0].id:
            assert after.block_owners(b)[0].id == "sg-4"


def test_zone_awareness_spreads_replicas_across_zones():
    ring = ring_of(6, rf=3, zones=3)
    for b in BLOCKS[:50]:
        assert sorted(i.zone for i in ring.block_owners(b)) == ["zone-a", "zone-b", "zone-c"]
    assert [i.id for i in ring.instances_in_zone("zone-b")] == ["sg-1", "sg-4"]


def test_dead_instance_gets_no_traffic():
    now = [1000.0]
    ring = ring_of(3, rf=2)
    ring.clock = lambda: now[0]
    ring.desc.instances["sg-1"].timestamp = 900.0  # 100 s without heartbeat > 60 s timeout
    assert [i.id for i in ring.healthy_instances()] == ["sg-0", "sg-2"]
    for b in BLOCKS[:100]:
        owners = [i.id for i in ring.block_owners(b)]
        assert "sg-1" not in owners
        assert len(owners) == 2  # the replica set is extended to the next healthy instance
    assert not ring.shard_blocks(BLOCKS).get("sg-1")
    ring.desc.instances["sg-2"].state = InstanceState.LEAVING
    assert all([i.id for i in ring.block_owners(b)] == ["sg-0"] for b in BLOCKS[:20])


@pytest.mark.serial  # a wall-clock bound or a race: alone on its core
def test_lifecycler_heartbeats_and_timeout_marks_unhealthy():
    async def body():
        kv = InMemoryKV()
        cfg = sg_config(heartbeat_period=0.02, heartbeat_timeout=0.2)
        watcher = InstanceRingWatcher(kv, STORE_GATEWAY_RING_KEY, cfg, name="store-gateway")
        await watcher.start()
        a = InstanceLifecycler(kv, STORE_GATEWAY_RING_KEY, cfg, instance_id="sg-a",
                               addr="127.0.0.1:1", zone="zone-a", name="store-gateway")
        b = InstanceLifecycler(kv, STORE_GATEWAY_RING_KEY, cfg, instance_id="sg-b",
                               addr="127.0.0.1:2", zone="zone-b", name="store-gateway")
        beats = metric_value(RING_MEMBER_HEARTBEATS, "store-gateway")
        await a.start()
        await b.start()
        ring = watcher.instance_ring()
        assert {i.id: i.state for i in ring.instances()} == {
            "sg-a": InstanceState.ACTIVE, "sg-b": InstanceState.ACTIVE}
        assert len(ring.desc.instances["sg-a"].tokens) == 512
        await asyncio.sleep(0.3)  # several heartbeats keep both healthy past the timeout
        assert len(watcher.instance_ring().healthy_instances()) == 2
        assert metric_value(RING_MEMBER_HEARTBEATS, "store-gateway") >= beats + 4
        # sg-b dies without unregistering: no more heartbeats.
        assert b.supervisor.running == ["heartbeat"]
        await b.supervisor.stop()
        await eventually(
            lambda: [i.id for i in watcher.instance_ring().healthy_instances()] == ["sg-a"],
            timeout=5, what="sg-b unhealthy")
        watcher.instance_ring().update_metrics()
        assert metric_value(RING_MEMBERS, "store-gateway", "Unhealthy") == 1
        assert metric_value(RING_MEMBERS, "store-gateway", "ACTIVE") == 1
        assert all(o.id == "sg-a" for blk in BLOCKS[:20]
                   for o in watcher.instance_ring().block_owners(blk))
        # A clean stop unregisters.
        await a.stop()
        assert "sg-a" not in (await kv.get(STORE_GATEWAY_RING_KEY)).instances
        watcher.stop()

    asyncio.run(asyncio.wait_for(body(), 20))


def test_restarted_instance_keeps_its_tokens_and_reappears_after_forget():
    async def body():
        kv = InMemoryKV()
        cfg = sg_config(heartbeat_period=0, unregister_on_shutdown=False)
        lc = InstanceLifecycler(kv, "store-gateway", cfg, instance_id="sg-0", addr="a:1")
        await lc.start()
        toks = list(lc.tokens)
        await lc.stop()
        desc = await kv.get("store-gateway")
        assert desc.instances["sg-0"].state is InstanceState.LEAVING
        lc2 = InstanceLifecycler(kv, "store-gateway", cfg, instance_id="sg-0", addr="a:2")
        await lc2.start()
        desc = await kv.get("store-gateway")
        assert desc.instances["sg-0"].tokens == toks
        assert desc.instances["sg-0"].addr == "a:2"
        assert desc.instances["sg-0"].state is InstanceState.ACTIVE
        # Someone forgets the instance; its next heartbeat puts it back.
        await kv.cas("store-gateway", lambda d: (InstanceRingDesc(), True))
        await lc2.heartbeat()
        assert (await kv.get("store-gateway")).instances["sg-0"].tokens == toks

    asyncio.run(body())


def test_tokens_are_unique_across_instances():
    rng = random.Random(3)
    a = generate_tokens(512, set(), rng)
    b = generate_tokens(512, set(a), rng)
    assert len(a) == 512 and a == sorted(a)
    assert not set(a) & set(b)
    assert Counter(a).most_common(1)[0][1] == 1


def test_heartbeat_auto_forgets_long_dead_instances():
    async def body():
        kv = InMemoryKV()
        now = [1000.0]
        cfg = sg_config(heartbeat_period=0, heartbeat_timeout=60.0)
        dead = InstanceLifecycler(kv, "store-gateway", cfg, instance_id="sg-dead", addr="d:1",
                                  clock=lambda: now[0])
        live = InstanceLifecycler(kv, "store-gateway", cfg, instance_id="sg-live", addr="l:1",
                                  clock=lambda: now[0], auto_forget_unhealthy_periods=10)
        await dead.start()
        await live.start()
        now[0] += 599.0  # unhealthy, but not yet for 10 heartbeat timeouts
        await live.heartbeat()
        assert set((await kv.get("store-gateway")).instances) == {"sg-dead", "sg-live"}
        now[0] += 2.0
        await live.heartbeat()
        assert set((await kv.get("store-gateway")).instances) == {"sg-live"}

    asyncio.run(body())


def test_sync_owners_count_joining_and_leaving_reads_only_active():
    from tidewell.ring.instance_ring import SYNC_STATES

    ring = ring_of(3, rf=2)
    ring.desc.instances["sg-1"].state = InstanceState.JOINING
    ring.desc.instances["sg-2"].state = InstanceState.LEAVING
    for b in BLOCKS[:50]:
        sync = [i.id for i in ring.block_owners(b, states=SYNC_STATES)]
        assert len(sync) == 2  # the same walk as with all ACTIVE
        assert sync == [i.id for i in ring_of(3, rf=2).block_owners(b)]
        assert [i.id for i in ring.block_owners(b)] == ["sg-0"]  # the only ACTIVE one
