"""Which compactor does what: owners in the compactor ring.

A tenant's cleanup belongs to the one healthy ACTIVE instance after FNV-1a 32 of
its ID (Mimir's ``ShardByUser``); a compaction job to the one after the hash of
``<tenant>-<stage>-<mint>-<maxt>-<shard>`` (Mimir's job sharding key), so
several compactors share even one tenant's jobs.

With ``compactor_tenant_shard_size`` N > 0 (Mimir's shuffle sharding) both are
looked up in the tenant's sub-ring of N instances instead of the whole ring, so
a tenant's work stays on N compactors and one tenant's trouble reaches only
them; compactors outside it do not even plan the tenant. 0 (or N >= the ring's
size) means every compactor.
"""

from __future__ import annotations

import random

import numpy as np

from tidewell.compactor.planner import Job
from tidewell.ring.instance_ring import InstanceRing, InstanceRingDesc, hash_block_id

__all__ = ["COMPACTOR_RING_KEY", "job_owner", "tenant_in_shard", "tenant_owner",
           "tenant_subring"]

COMPACTOR_RING_KEY = "compactor"


def tenant_subring(ring: InstanceRing, tenant: str, shard_size: int) -> InstanceRing:
    """The tenant's ``shard_size`` instances, chosen stably: from points seeded by the
    tenant, walk the ring clockwise to the next instance not chosen yet (dskit's shuffle
    sharding), so one instance joining or leaving changes at most one member."""
    instances = ring.desc.instances
    if shard_size <= 0 or shard_size >= len(instances):
        return ring
    pairs = sorted((t, i.id) for i in instances.values() for t in i.tokens)
    tokens = np.asarray([t for t, _ in pairs], dtype=np.uint64)
    rnd = random.Random(hash_block_id(tenant))
    chosen: list[str] = []
    while len(chosen) < shard_size:
        start = int(np.searchsorted(tokens, rnd.getrandbits(32), side="right"))
        for k in range(len(pairs)):
            iid = pairs[(start + k) % len(pairs)][1]
            if iid not in chosen:
                chosen.append(iid)
                break
    sub = InstanceRingDesc(instances={i: instances[i] for i in chosen})
    return InstanceRing(sub, ring.config, name=ring.name, clock=ring.clock)


def tenant_in_shard(ring: InstanceRing, tenant: str, shard_size: int,
                    instance_id: str) -> bool:
    """Whether ``instance_id`` is one of the tenant's compactors (plans its jobs)."""
    return instance_id in tenant_subring(ring, tenant, shard_size).desc.instances


def tenant_owner(ring: InstanceRing, tenant: str, shard_size: int = 0) -> str | None:
    """The instance ID owning ``tenant``'s cleanup, None while its (sub-)ring has no
    healthy ACTIVE instance."""
    # hash_block_id hashes the bytes of any string that is not a ULID, as ShardByUser does.
    sub = tenant_subring(ring, tenant, shard_size)
    owners = sub.get(hash_block_id(tenant), replication_factor=1)
    return owners[0].id if owners else None


def job_owner(ring: InstanceRing, tenant: str, job: Job, shard_size: int = 0) -> str | None:
    """The instance ID that runs ``job`` of ``tenant``."""
    key = (f"{tenant}-{job.stage}-{job.window_start}-{job.window_start + job.range_ms}-"
           f"{job.shard_id}")
    owners = tenant_subring(ring, tenant, shard_size).get(hash_block_id(key),
                                                          replication_factor=1)
    return owners[0].id if owners else None
