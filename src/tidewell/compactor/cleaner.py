"""The blocks cleaner: the only writer of a tenant's ``bucket-index.json.gz``.

Per tenant, every ``-compactor.cleanup-interval``: list the tenant's blocks and
marks (reusing the stored index), mark blocks past the tenant's retention,
delete partial blocks that carry a deletion mark and mark partial blocks older
than ``partial-block-deletion-delay``, hard-delete blocks marked longer than
``-compactor.deletion-delay`` ago, and write the index. Queriers and
store-gateways keep serving a marked block until their own
``ignore-deletion-marks-delay`` has passed, which is shorter than the deletion
delay, so no query misses data while blocks are replaced.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tidewell.compactor import metrics as m
from tidewell.compactor.marks import delete_block, mark_for_deletion
from tidewell.objstore import Bucket, tenant_bucket
from tidewell.objstore.bucketindex import (
    INDEX_VERSION,
    BucketIndex,
    BucketIndexCorruptedError,
    BucketIndexNotFoundError,
    build_bucket_index,
    read_bucket_index,
    write_bucket_index,
)

__all__ = ["CleanupResult", "TenantLimits", "clean_tenant"]

log = logging.getLogger("tidewell.compactor")


@dataclass(frozen=True, slots=True)
class TenantLimits:
    """A tenant's compactor limits (seconds; retention 0 keeps blocks forever;
    ``split_and_merge_shards`` 0 disables the split stage)."""

    blocks_retention_period: float = 0.0
    partial_block_deletion_delay: float = 86400.0
    split_and_merge_shards: int = 0
    split_groups: int = 1


@dataclass(slots=True)
class CleanupResult:
    index: BucketIndex
    deleted: list[str]
    marked: list[str]
    partials: int


def _partial_age(tb: Bucket, block_id: str, now: float) -> float:
    """Seconds since the newest object of a partial block was written."""
    newest = max((o.last_modified for o in tb.iter_prefix(block_id)), default=0.0)
    return now - newest


def clean_tenant(
    bucket: Bucket,
    tenant: str,
    *,
    now: float,
    deletion_delay: float,
    limits: TenantLimits,
) -> CleanupResult:
    """Apply retention and deletion to one tenant and write its bucket index."""
    tb = tenant_bucket(bucket, tenant)
    try:
        old: BucketIndex | None = read_bucket_index(bucket, tenant)
    except (BucketIndexNotFoundError, BucketIndexCorruptedError):
        old = None
    if old is not None and old.version != INDEX_VERSION:
        old = None  # version 1 lacks compactor_shard_id: read every meta.json again
    index, partials = build_bucket_index(bucket, tenant, old, now=now)
    marks = index.deletion_marks()
    deleted: list[str] = []
    marked: list[str] = []

    if limits.blocks_retention_period > 0:
        cutoff_ms = int((now - limits.blocks_retention_period) * 1000)
        for b in index.blocks:
            if b.max_time < cutoff_ms and b.block_id not in marks:
                if mark_for_deletion(tb, b.block_id, "block exceeding retention period", now):
                    m.BLOCKS_MARKED_FOR_DELETION.labels("retention").inc()
                marked.append(b.block_id)

    for block_id, why in partials.items():
        if "partial" not in why:
            continue  # a corrupted meta.json is left for an operator
        if block_id in marks:
            delete_block(tb, block_id)  # a deletion that was interrupted
            deleted.append(block_id)
        elif _partial_age(tb, block_id, now) > limits.partial_block_deletion_delay:
            if mark_for_deletion(tb, block_id, "partial block", now):
                m.BLOCKS_MARKED_FOR_DELETION.labels("partial").inc()
            marked.append(block_id)

    for mark in marks.values():
        if mark.block_id not in deleted and now - mark.deletion_time > deletion_delay:
            delete_block(tb, mark.block_id)
            deleted.append(mark.block_id)
    m.BLOCKS_CLEANED.inc(len(deleted))
    for block_id in deleted:
        log.info("deleted block marked for deletion",
                 extra={"fields": {"user": tenant, "block": block_id}})

    if deleted or marked:
        index, partials = build_bucket_index(bucket, tenant, index, now=now)
    write_bucket_index(bucket, tenant, index)
    m.BUCKET_BLOCKS.labels(tenant).set(len(index.blocks))
    m.BUCKET_BLOCKS_MARKED.labels(tenant).set(len(index.block_deletion_marks))
    m.BUCKET_BLOCKS_PARTIALS.labels(tenant).set(len(partials))
    m.BUCKET_INDEX_LAST_UPDATE.labels(tenant).set(now)
    return CleanupResult(index, deleted, marked, len(partials))
