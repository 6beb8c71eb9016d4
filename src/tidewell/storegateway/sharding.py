"""Which blocks a store-gateway loads: its share of the ring (Mimir's ``DefaultShardingStrategy``).

A block belongs to the replication-factor store-gateways found by walking the
ring from the hash of its ID (``InstanceRing.block_owners``); JOINING and
LEAVING gateways count as owners here, so a joining gateway loads its blocks
before it turns ACTIVE and queriers start asking it. A gateway also loads the
blocks queriers would ask it for: they walk past non-ACTIVE gateways to the
next ACTIVE ones (our ring extends the replica set where dskit's does not).

When ownership moves (a gateway joins, leaves or stops heartbeating), the new
owner loads the block at its next sync while the old one keeps it: a loaded
block that is no longer owned is dropped only at the second sync that finds it
not owned, and not even then while no ACTIVE healthy gateway owns it (Mimir
keeps it until an authoritative owner can serve queries).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Set
from typing import Protocol

from tidewell.objstore.bucketindex import IndexBlock
from tidewell.ring.instance_ring import SYNC_STATES, InstanceRingSource

__all__ = ["RingShardingStrategy", "ShardingStrategy"]


class ShardingStrategy(Protocol):
    """Decides which blocks this store-gateway keeps loaded."""

    def filter_blocks(
        self, tenant: str, blocks: dict[str, IndexBlock], loaded: Set[str]
    ) -> dict[str, IndexBlock]:
        """Of ``blocks`` (block ID → meta), the ones to keep or load; ``loaded`` is what
        is loaded now."""
        ...

    def ring_state(self) -> Hashable:
        """Changes whenever block ownership may have changed (checked every few seconds)."""
        ...


class RingShardingStrategy:
    """Blocks owned by ``instance_id`` in the store-gateway ring."""

    def __init__(self, ring: InstanceRingSource, instance_id: str) -> None:
        self.ring = ring
        self.instance_id = instance_id
        self._not_owned: dict[str, set[str]] = {}  # tenant → loaded, not owned at last sync
        self._lock = threading.Lock()

    def filter_blocks(
        self, tenant: str, blocks: dict[str, IndexBlock], loaded: Set[str]
    ) -> dict[str, IndexBlock]:
        ring = self.ring.instance_ring()
        with self._lock:
            before = self._not_owned.get(tenant, set())
        keep: dict[str, IndexBlock] = {}
        not_owned: set[str] = set()
        for block_id, meta in blocks.items():
            readers = ring.block_owners(block_id)
            owners = [*ring.block_owners(block_id, states=SYNC_STATES), *readers]
            if any(o.id == self.instance_id for o in owners):
                keep[block_id] = meta
            elif block_id in loaded and (block_id not in before or not readers):
                keep[block_id] = meta
                not_owned.add(block_id)
        with self._lock:
            self._not_owned[tenant] = not_owned
        return keep

    def ring_state(self) -> Hashable:
        ring = self.ring.instance_ring()
        return frozenset((i.id, i.state, hash(tuple(i.tokens)))
                         for i in ring.healthy_instances())
