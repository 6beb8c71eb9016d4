"""Which ruler evaluates which group: one owner per group in the ruler ring.

A group's ring key is FNV-1a 32 of ``tenant \\0 namespace \\0 group`` (Mimir's
``tokenForGroup``); its owner is the first healthy ACTIVE ruler clockwise from
it. A ruler that stops heartbeating drops out once ``-ruler.ring.heartbeat-timeout``
passes, and the next ruler on the ring picks its groups up at its next sync.
"""

from __future__ import annotations

from tidewell.ring.instance_ring import InstanceRing, hash_block_id

__all__ = ["RULER_RING_KEY", "group_owner"]

RULER_RING_KEY = "ruler"


def group_owner(ring: InstanceRing, key: str) -> str | None:
    """The instance ID owning the group ``key`` (``state.group_key``), None without rulers."""
    # hash_block_id hashes the bytes of anything that is not a ULID (FNV-1a 32).
    owners = ring.get(hash_block_id(key), replication_factor=1)
    return owners[0].id if owners else None
