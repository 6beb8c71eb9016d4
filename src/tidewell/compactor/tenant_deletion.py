"""Tenant deletion, as Mimir's ``/compactor/delete_tenant``.

The API writes ``<tenant>/markers/tenant-deletion-mark.json`` (``{"deletion_time": s}``).
From then on the compactor does not compact the tenant, and its blocks cleaner
deletes every block and the bucket index at once (queriers and store-gateways
then see no blocks), records ``finished_time`` in the mark, and removes what
is left, the mark included, ``-compactor.tenant-cleanup-delay`` later.
"""

from __future__ import annotations

import json
from typing import Any

from tidewell.compactor.marks import delete_block
from tidewell.objstore import Bucket, ObjectNotFoundError, tenant_bucket
from tidewell.objstore.bucketindex import delete_bucket_index, is_block_id

__all__ = [
    "TENANT_DELETION_MARK",
    "delete_tenant_data",
    "read_tenant_deletion_mark",
    "tenant_blocks_left",
    "write_tenant_deletion_mark",
]

TENANT_DELETION_MARK = "markers/tenant-deletion-mark.json"


def write_tenant_deletion_mark(bucket: Bucket, tenant: str, now: float) -> None:
    """Request deletion of the tenant (kept if it was already requested)."""
    if read_tenant_deletion_mark(bucket, tenant) is None:
        tenant_bucket(bucket, tenant).put(
            TENANT_DELETION_MARK, json.dumps({"deletion_time": int(now)}).encode())


def read_tenant_deletion_mark(bucket: Bucket, tenant: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(tenant_bucket(bucket, tenant).get(TENANT_DELETION_MARK))
    except ObjectNotFoundError:
        return None
    return doc if isinstance(doc, dict) else {"deletion_time": 0}


def tenant_blocks_left(bucket: Bucket, tenant: str) -> list[str]:
    """Block directories still in the tenant's bucket."""
    names = (p.rstrip("/") for p in tenant_bucket(bucket, tenant).list_dir("").prefixes)
    return sorted(n for n in names if is_block_id(n))


def delete_tenant_data(bucket: Bucket, tenant: str, *, now: float, cleanup_delay: float) -> int:
    """One cleaner pass over a tenant marked for deletion; returns the blocks deleted."""
    tb = tenant_bucket(bucket, tenant)
    mark = read_tenant_deletion_mark(bucket, tenant) or {}
    delete_bucket_index(bucket, tenant)
    blocks = tenant_blocks_left(bucket, tenant)
    for block_id in blocks:
        delete_block(tb, block_id)
    finished = int(mark.get("finished_time") or 0)
    if not finished:
        mark["finished_time"] = int(now)
        tb.put(TENANT_DELETION_MARK, json.dumps(mark).encode())
    elif now - finished > cleanup_delay:
        tb.delete_prefix("")
    return len(blocks)
