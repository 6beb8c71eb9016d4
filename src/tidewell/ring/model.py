"""The partition ring's stored shape: partitions, their states and owners.

Mirrors dskit's ``PartitionRingDesc``: each partition has an id, 512 tokens, a
state (PENDING → ACTIVE → INACTIVE) with the time it changed, and owners (the
ingesters consuming it) each with a state and timestamp.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from tidewell.ring.tokens import partition_tokens

__all__ = ["OwnerDesc", "OwnerState", "PartitionDesc", "PartitionRingDesc", "PartitionState"]


class PartitionState(enum.Enum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


class OwnerState(enum.Enum):
    ACTIVE = "ACTIVE"
    DELETED = "DELETED"


@dataclass
class OwnerDesc:
    owner_id: str
    state: OwnerState = OwnerState.ACTIVE
    updated_timestamp: float = 0.0


@dataclass
class PartitionDesc:
    id: int
    tokens: list[int]
    state: PartitionState
    state_timestamp: float
    state_change_locked: bool = False


@dataclass
class PartitionRingDesc:
    partitions: dict[int, PartitionDesc] = field(default_factory=dict)
    owners: dict[str, tuple[int, OwnerDesc]] = field(default_factory=dict)

    def add_partition(self, pid: int, state: PartitionState, now: float) -> None:
        self.partitions[pid] = PartitionDesc(pid, partition_tokens(pid), state, now)

    def update_partition_state(self, pid: int, state: PartitionState, now: float) -> bool:
        p = self.partitions.get(pid)
        if p is None or p.state is state:
            return False
        p.state = state
        p.state_timestamp = now
        return True

    def add_or_update_owner(self, owner_id: str, pid: int, now: float) -> bool:
        cur = self.owners.get(owner_id)
        if cur is not None and cur[0] == pid and cur[1].state is OwnerState.ACTIVE:
            return False
        self.owners[owner_id] = (pid, OwnerDesc(owner_id, OwnerState.ACTIVE, now))
        return True

    def remove_owner(self, owner_id: str) -> bool:
        return self.owners.pop(owner_id, None) is not None

    def owners_of(self, pid: int) -> dict[str, OwnerDesc]:
        return {oid: d for oid, (p, d) in self.owners.items() if p == pid}

    def to_dict(self) -> dict:
        return {
            "partitions": {
                str(p.id): {
                    "state": p.state.value,
                    "state_timestamp": p.state_timestamp,
                    "tokens": len(p.tokens),
                    "owners": {
                        oid: {"state": o.state.value, "updated_timestamp": o.updated_timestamp}
                        for oid, o in self.owners_of(p.id).items()
                    },
                }
                for p in sorted(self.partitions.values(), key=lambda d: d.id)
            }
        }
