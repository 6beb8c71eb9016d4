"""Instance rings (dskit's ``ring.Desc``): who is up, where, and which tokens they own.

Store-gateways and ingesters register under one KV key per ring (Mimir's keys:
``ring`` for ingesters, ``store-gateway`` for store-gateways) as
``{instance_id: {addr, zone, state, tokens, timestamp, registered_timestamp}}``.
An instance is healthy while its heartbeat is younger than
``heartbeat_timeout``. ``InstanceRing`` is an immutable snapshot; health is
judged at call time, so an instance that stops heartbeating drops out even if
the KV never changes again.

Replica selection follows dskit: hash the key to a 32-bit token, walk the ring
from the first token greater than it, and take distinct instances (distinct
zones too with zone awareness). Unlike dskit's store-gateway read path, an
unhealthy or non-ACTIVE instance is skipped and the walk goes on (the replica
set is extended), so a dead instance stops receiving traffic while its blocks
stay served by the next instances.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from ulid import ULID

from tidewell.ring.config import InstanceRingConfig
from tidewell.ring.kv import KV, KeyWatcher
from tidewell.ring.metrics import RING_MEMBERS, RING_OLDEST_MEMBER_TIMESTAMP, RING_TOKENS_TOTAL

__all__ = [
    "INGESTER_RING_KEY",
    "STORE_GATEWAY_RING_KEY",
    "SYNC_STATES",
    "InstanceDesc",
    "InstanceRing",
    "InstanceRingDesc",
    "InstanceRingSource",
    "InstanceRingWatcher",
    "InstanceState",
    "forget_instance",
    "hash_block_id",
]

INGESTER_RING_KEY = "ring"
STORE_GATEWAY_RING_KEY = "store-gateway"


class InstanceState(enum.Enum):
    PENDING = "PENDING"
    JOINING = "JOINING"
    ACTIVE = "ACTIVE"
    LEAVING = "LEAVING"


SYNC_STATES = (InstanceState.JOINING, InstanceState.ACTIVE, InstanceState.LEAVING)


@dataclass
class InstanceDesc:
    id: str
    addr: str
    zone: str = ""
    state: InstanceState = InstanceState.JOINING
    tokens: list[int] = field(default_factory=list)
    timestamp: float = 0.0  # last heartbeat, unix seconds
    registered_timestamp: float = 0.0


@dataclass
class InstanceRingDesc:
    instances: dict[str, InstanceDesc] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "instances": {
                i.id: {
                    "addr": i.addr,
                    "zone": i.zone,
                    "state": i.state.value,
                    "tokens": i.tokens,
                    "timestamp": i.timestamp,
                    "registered_timestamp": i.registered_timestamp,
                }
                for i in sorted(self.instances.values(), key=lambda d: d.id)
            }
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> InstanceRingDesc:
        return cls(
            {
                iid: InstanceDesc(
                    iid,
                    d["addr"],
                    d.get("zone", ""),
                    InstanceState(d["state"]),
                    [int(t) for t in d.get("tokens", ())],
                    float(d.get("timestamp", 0.0)),
                    float(d.get("registered_timestamp", 0.0)),
                )
                for iid, d in doc.get("instances", {}).items()
            }
        )


def _fnv1a_32(data: bytes) -> int:
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def hash_block_id(block_id: str) -> int:
    """The ring key of a block: FNV-1a 32 of its 16 ULID bytes, as Mimir's ``HashBlockID``."""
    try:
        raw = ULID.from_str(block_id).bytes
    except ValueError:
        raw = block_id.encode()
    return _fnv1a_32(raw)


class InstanceRing:
    """A snapshot of an instance ring; health is judged against ``clock()`` at call time."""

    def __init__(
        self,
        desc: InstanceRingDesc,
        config: InstanceRingConfig | None = None,
        *,
        name: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.desc = desc
        self.config = config or InstanceRingConfig()
        self.name = name
        self.clock = clock
        pairs = sorted((t, i.id) for i in desc.instances.values() for t in i.tokens)
        self._tokens = np.asarray([t for t, _ in pairs], dtype=np.uint32)
        self._owners = [iid for _, iid in pairs]

    def instance_ring(self) -> InstanceRing:
        """A snapshot is its own source (status pages take watchers or snapshots)."""
        return self

    def is_healthy(self, inst: InstanceDesc, now: float | None = None) -> bool:
        """Heartbeat within ``heartbeat_timeout`` (a timeout of 0 disables the check)."""
        timeout = self.config.heartbeat_timeout
        if timeout <= 0:
            return True
        now = self.clock() if now is None else now
        return now - inst.timestamp <= timeout

    def instances(self) -> list[InstanceDesc]:
        return sorted(self.desc.instances.values(), key=lambda d: d.id)

    def healthy_instances(self) -> list[InstanceDesc]:
        now = self.clock()
        return [i for i in self.instances() if self.is_healthy(i, now)]

    def instances_in_zone(self, zone: str) -> list[InstanceDesc]:
        return [i for i in self.instances() if i.zone == zone]

    def zones(self) -> list[str]:
        return sorted({i.zone for i in self.desc.instances.values()})

    def get(
        self, key: int, replication_factor: int | None = None, *,
        states: Collection[InstanceState] = (InstanceState.ACTIVE,),
    ) -> list[InstanceDesc]:
        """Up to RF healthy instances in ``states`` for ``key``, walking the ring clockwise.

        Reads want ACTIVE owners only; a store-gateway deciding which blocks to load
        also counts JOINING and LEAVING ones (``SYNC_STATES``, Mimir's ``BlocksOwnerSync``),
        so a joining gateway loads its blocks before it turns ACTIVE.
        """
        rf = self.config.replication_factor if replication_factor is None else replication_factor
        n = len(self._owners)
        if n == 0:
            return []
        now = self.clock()
        zone_aware = self.config.zone_awareness_enabled
        start = int(np.searchsorted(self._tokens, np.uint32(key & 0xFFFFFFFF), side="right"))
        picked: list[InstanceDesc] = []
        seen: set[str] = set()
        zones: set[str] = set()
        for k in range(n):
            iid = self._owners[(start + k) % n]
            if iid in seen:
                continue
            seen.add(iid)
            inst = self.desc.instances[iid]
            if zone_aware and inst.zone in zones:
                continue
            if inst.state not in states or not self.is_healthy(inst, now):
                continue
            picked.append(inst)
            zones.add(inst.zone)
            if len(picked) >= rf:
                break
        return picked

    def block_owners(
        self, block_id: str, *, states: Collection[InstanceState] = (InstanceState.ACTIVE,)
    ) -> list[InstanceDesc]:
        """The store-gateways that should load and serve ``block_id``."""
        return self.get(hash_block_id(block_id), states=states)

    def shard_blocks(self, block_ids: Iterable[str]) -> dict[str, list[str]]:
        """instance ID → the block IDs it owns (each block on up to RF instances)."""
        out: dict[str, list[str]] = {i.id: [] for i in self.healthy_instances()}
        for bid in block_ids:
            for inst in self.block_owners(bid):
                out.setdefault(inst.id, []).append(bid)
        return out

    def owns_block(self, instance_id: str, block_id: str) -> bool:
        return any(i.id == instance_id for i in self.block_owners(block_id))

    def update_metrics(self) -> None:
        """``cortex_ring_members{name,state}`` etc. as dskit reports them."""
        now = self.clock()
        counts = {s.value: 0 for s in InstanceState} | {"Unhealthy": 0}
        oldest: dict[str, float] = {}
        for inst in self.desc.instances.values():
            state = inst.state.value if self.is_healthy(inst, now) else "Unhealthy"
            counts[state] += 1
            if inst.timestamp and (state not in oldest or inst.timestamp < oldest[state]):
                oldest[state] = inst.timestamp
        for state, count in counts.items():
            RING_MEMBERS.labels(self.name, state).set(count)
            RING_OLDEST_MEMBER_TIMESTAMP.labels(self.name, state).set(oldest.get(state, 0.0))
        RING_TOKENS_TOTAL.labels(self.name).set(len(self._owners))


class InstanceRingSource(Protocol):
    """Anything that hands out the current instance ring (a watcher, a test's fixed ring)."""

    def instance_ring(self) -> InstanceRing: ...


class InstanceRingWatcher(KeyWatcher[InstanceRing]):
    """Keeps the latest ``InstanceRing`` of one KV key, updated on every change."""

    def __init__(
        self,
        kv: KV,
        key: str,
        config: InstanceRingConfig | None = None,
        *,
        name: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or InstanceRingConfig()
        self.name = name if name is not None else key
        self.clock = clock
        super().__init__(kv, key, self._make)

    def _make(self, value: InstanceRingDesc | None) -> InstanceRing:
        ring = InstanceRing(
            value if value is not None else InstanceRingDesc(),
            self.config,
            name=self.name,
            clock=self.clock,
        )
        ring.update_metrics()
        return ring

    def instance_ring(self) -> InstanceRing:
        return self.current()


async def forget_instance(kv: KV, key: str, instance_id: str) -> bool:
    """Remove an instance from the ring (the status page's "Forget"); True if it was there."""
    removed: list[bool] = []

    def f(old: InstanceRingDesc | None) -> tuple[InstanceRingDesc | None, bool]:
        if old is None or instance_id not in old.instances:
            removed.append(False)
            return None, False
        del old.instances[instance_id]
        removed.append(True)
        return old, True

    await kv.cas(key, f)
    return bool(removed and removed[-1])
