"""Store-gateways sharding blocks over the ring: each loads its share, moves follow the ring."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from tidewell.objstore import FilesystemBucket
from tidewell.ring import InstanceDesc, InstanceRing, InstanceRingDesc, InstanceState
from tidewell.ring import StoreGatewayShardingRingConfig as RingConfig
from tidewell.ring.instance_lifecycler import generate_tokens
from tidewell.storegateway.config import BucketStoreConfig
from tidewell.storegateway.gateway import StoreGateway
from tidewell.storegateway.sharding import RingShardingStrategy

from .sg_helpers import HOUR, T0, make_series, write_and_upload

pytestmark = pytest.mark.timeout(60)
NOW = 1_800_000_000.0
N_BLOCKS = 30
"""Block IDs are random: one of 3 gateways owns all 30 (RF 2) with probability 2e-5."""


class RingHolder:
    """The ring a gateway sees; tests swap it as a ring watcher would on a KV change."""

    def __init__(self, ring: InstanceRing) -> None:
        self.ring = ring

    def instance_ring(self) -> InstanceRing:
        return self.ring


def ring_of(states: dict[str, InstanceState], rf: int = 2, seed: int = 7,
            stale: tuple[str, ...] = ()) -> InstanceRing:
    rng = random.Random(seed)
    desc = InstanceRingDesc()
    taken: set[int] = set()
    for iid in sorted(states):
        tokens = generate_tokens(64, taken, rng)
        taken |= set(tokens)
        beat = NOW - 3600 if iid in stale else NOW
        desc.instances[iid] = InstanceDesc(iid, f"{iid}:80", "", states[iid], tokens, beat, beat)
    return InstanceRing(desc, RingConfig(replication_factor=rf), clock=lambda: NOW)


@pytest.fixture
def blocks(fs_bucket: FilesystemBucket, tmp_path: Path) -> list[str]:
    return [write_and_upload(fs_bucket, "t1", tmp_path / "local",
                             make_series(2, T0 + k * HOUR, T0 + (k + 1) * HOUR, seed=k))
            for k in range(N_BLOCKS)]


def gateways(bucket: FilesystemBucket, tmp: Path, holder: RingHolder,
             ids: list[str]) -> dict[str, StoreGateway]:
    return {iid: StoreGateway(BucketStoreConfig(), bucket, tmp / f"sync-{iid}",
                              sharding=RingShardingStrategy(holder, iid)) for iid in ids}


def loaded(gw: StoreGateway) -> set[str]:
    return {b.id for b in gw.blocks("t1")}


def test_each_gateway_loads_only_its_blocks_and_every_block_twice(
    fs_bucket: FilesystemBucket, tmp_path: Path, blocks: list[str]
) -> None:
    ids = ["sg-0", "sg-1", "sg-2"]
    holder = RingHolder(ring_of(dict.fromkeys(ids, InstanceState.ACTIVE)))
    gws = gateways(fs_bucket, tmp_path, holder, ids)
    for gw in gws.values():
        gw.sync()
    for iid, gw in gws.items():
        owned = {b for b in blocks if holder.ring.owns_block(iid, b)}
        assert loaded(gw) == owned
        assert 0 < len(owned) < N_BLOCKS  # a strict subset
    for b in blocks:
        assert sum(b in loaded(gw) for gw in gws.values()) == 2  # RF 2
    # A gateway asked for chosen blocks searches those it has, and says which.
    gw = gws["sg-0"]
    q = gw.blocks_querier("t1", T0, T0 + N_BLOCKS * HOUR, blocks)
    assert q.queried_blocks == sorted(loaded(gw))


def test_a_joining_gateway_loads_its_share_before_it_is_active(
    fs_bucket: FilesystemBucket, tmp_path: Path, blocks: list[str]
) -> None:
    holder = RingHolder(ring_of({"sg-0": InstanceState.ACTIVE, "sg-1": InstanceState.ACTIVE,
                                 "sg-2": InstanceState.JOINING}))
    gw = gateways(fs_bucket, tmp_path, holder, ["sg-2"])["sg-2"]
    gw.sync()
    mine = {b for b in blocks if "sg-2" in {
        o.id for o in holder.ring.block_owners(b, states=(InstanceState.JOINING,
                                                           InstanceState.ACTIVE))}}
    assert mine and loaded(gw) == mine
    assert all(not holder.ring.owns_block("sg-2", b) for b in blocks)  # queriers skip it


def test_blocks_no_longer_owned_are_kept_one_more_sync(
    fs_bucket: FilesystemBucket, tmp_path: Path, blocks: list[str]
) -> None:
    ids = ["sg-0", "sg-1", "sg-2"]
    two = {"sg-0": InstanceState.ACTIVE, "sg-1": InstanceState.ACTIVE}
    holder = RingHolder(ring_of(two))
    gws = gateways(fs_bucket, tmp_path, holder, ids)
    gws["sg-0"].sync()
    assert loaded(gws["sg-0"]) == set(blocks)  # two gateways, RF 2: each has everything

    holder.ring = ring_of(dict.fromkeys(ids, InstanceState.ACTIVE))  # sg-2 joined
    moved = {b for b in blocks if not holder.ring.owns_block("sg-0", b)}
    assert moved
    gws["sg-0"].sync()
    assert loaded(gws["sg-0"]) == set(blocks)  # kept while sg-2 loads them
    gws["sg-0"].sync()
    assert loaded(gws["sg-0"]) == set(blocks) - moved

    # Owners JOINING: queriers walk on to the next ACTIVE gateway, sg-0 here, so it
    # keeps serving those blocks however many syncs pass, until the owners are ACTIVE.
    holder.ring = ring_of(two)
    again = gateways(fs_bucket, tmp_path / "again", holder, ["sg-0"])["sg-0"]
    again.sync()
    holder.ring = ring_of({"sg-0": InstanceState.ACTIVE, "sg-1": InstanceState.JOINING,
                           "sg-2": InstanceState.JOINING})
    assert all(holder.ring.owns_block("sg-0", b) for b in moved)
    for _ in range(3):
        again.sync()
    assert loaded(again) == set(blocks)
    holder.ring = ring_of(dict.fromkeys(ids, InstanceState.ACTIVE))
    again.sync()
    assert loaded(again) == set(blocks)
    again.sync()
    assert loaded(again) == set(blocks) - moved

    # No ACTIVE healthy gateway at all (sg-0's own heartbeat is stale): nothing dropped.
    holder.ring = ring_of({"sg-0": InstanceState.ACTIVE, "sg-1": InstanceState.JOINING,
                           "sg-2": InstanceState.JOINING}, stale=("sg-0",))
    for _ in range(3):
        again.sync()
    assert loaded(again) == set(blocks) - moved


def test_a_ring_change_triggers_a_sync(
    fs_bucket: FilesystemBucket, tmp_path: Path, blocks: list[str]
) -> None:
    ids = ["sg-0", "sg-1", "sg-2"]
    holder = RingHolder(ring_of(dict.fromkeys(ids, InstanceState.ACTIVE)))
    gw = StoreGateway(BucketStoreConfig(sync_interval=3600), fs_bucket, tmp_path / "sync",
                      sharding=RingShardingStrategy(holder, "sg-0"), ring_check_period=0.05)

    async def run() -> None:
        await gw.start()
        before = loaded(gw)
        assert before != set(blocks)
        holder.ring = ring_of({"sg-0": InstanceState.ACTIVE, "sg-1": InstanceState.ACTIVE,
                               "sg-2": InstanceState.ACTIVE}, stale=("sg-2",))  # sg-2 died
        for _ in range(200):
            if loaded(gw) == set(blocks):
                break
            await asyncio.sleep(0.02)
        await gw.stop()

    asyncio.run(run())
    # sg-2 stopped heartbeating: its blocks fall to the next gateways, sg-0 has them all
    # (2 healthy gateways, RF 2) long before the hourly sync.
    assert gw.blocks("t1") == []  # stopped
    assert all(holder.ring.owns_block("sg-0", b) for b in blocks)
