"""Which compactor does what: owners in the compactor ring.

A tenant's cleanup belongs to the one healthy ACTIVE instance after FNV-1a 32 of
its ID (Mimir's ``ShardByUser``); a compaction job to the one after the hash of
``<tenant>-<stage>-<mint>-<maxt>-<shard>`` (Mimir's job sharding key), so
several compactors share even one tenant's jobs.
"""

from __future__ import annotations

from tidewell.compactor.planner import Job
from tidewell.ring.instance_ring import InstanceRing, hash_block_id

__all__ = ["COMPACTOR_RING_KEY", "job_owner", "tenant_owner"]

COMPACTOR_RING_KEY = "compactor"


def tenant_owner(ring: InstanceRing, tenant: str) -> str | None:
    """The instance ID owning ``tenant``, None while the ring has no healthy ACTIVE instance."""
    # hash_block_id hashes the bytes of any string that is not a ULID, as ShardByUser does.
    owners = ring.get(hash_block_id(tenant), replication_factor=1)
    return owners[0].id if owners else None


def job_owner(ring: InstanceRing, tenant: str, job: Job) -> str | None:
    """The instance ID that runs ``job`` of ``tenant``."""
    key = (f"{tenant}-{job.stage}-{job.window_start}-{job.window_start + job.range_ms}-"
           f"{job.shard_id}")
    owners = ring.get(hash_block_id(key), replication_factor=1)
    return owners[0].id if owners else None
