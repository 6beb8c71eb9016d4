"""Which compactor handles a tenant: its owner in the compactor ring.

The ring key of a tenant is FNV-1a 32 of its ID (Mimir's ``ShardByUser``); the
one healthy ACTIVE instance after it owns the tenant's compaction and cleanup.
"""

from __future__ import annotations

from tidewell.ring.instance_ring import InstanceRing, hash_block_id

__all__ = ["COMPACTOR_RING_KEY", "tenant_owner"]

COMPACTOR_RING_KEY = "compactor"


def tenant_owner(ring: InstanceRing, tenant: str) -> str | None:
    """The instance ID owning ``tenant``, None while the ring has no healthy ACTIVE instance."""
    # hash_block_id hashes the bytes of any string that is not a ULID, as ShardByUser does.
    owners = ring.get(hash_block_id(tenant), replication_factor=1)
    return owners[0].id if owners else None
