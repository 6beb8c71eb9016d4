"""Deletion and no-compact marks, and hard deletion of blocks, in Mimir's (Thanos's)
layout and order.

A mark is written inside the block (``<ULID>/deletion-mark.json``,
``<ULID>/no-compact-mark.json``) and in the tenant's global markers directory
(``markers/<ULID>-deletion-mark.json``, ``markers/<ULID>-no-compact-mark.json``),
the latter being what bucket-index builders and planners list. A block is deleted
``meta.json`` first (so no reader takes the remains for a complete block) and
its marks last.
"""

from __future__ import annotations

import json
import time

from tidewell.objstore import Bucket
from tidewell.objstore.bucketindex import (
    DELETION_MARK_FILENAME,
    MARKERS_DIR,
    META_FILENAME,
    deletion_mark_key,
    is_block_id,
)

__all__ = [
    "NO_COMPACT_MARK_FILENAME",
    "NO_COMPACT_REASONS",
    "delete_block",
    "mark_for_deletion",
    "mark_for_no_compaction",
    "no_compact_marked",
]

NO_COMPACT_MARK_FILENAME = "no-compact-mark.json"
# Mimir's reasons: set by an operator; index over the size limit; chunks out of order in
# the index; any other error that makes the block unreadable.
NO_COMPACT_REASONS = ("manual", "index-size-exceeding", "block-index-out-of-order-chunk",
                      "critical")


def mark_for_deletion(tb: Bucket, block_id: str, details: str, now: float | None = None) -> bool:
    """Mark a block of the tenant bucket ``tb`` for deletion; False if it already was."""
    local = f"{block_id}/{DELETION_MARK_FILENAME}"
    if tb.exists(local):
        if not tb.exists(deletion_mark_key(block_id)):
            tb.put(deletion_mark_key(block_id), tb.get(local))
        return False
    doc = {"id": block_id, "deletion_time": int(time.time() if now is None else now),
           "version": 1, "details": details}
    data = json.dumps(doc, indent="\t").encode()
    tb.put(local, data)
    tb.put(deletion_mark_key(block_id), data)
    return True


def mark_for_no_compaction(tb: Bucket, block_id: str, reason: str, details: str,
                           now: float) -> bool:
    """Exclude a block from compaction (it is still served); False if it already was."""
    if reason not in NO_COMPACT_REASONS:
        raise ValueError(f"no-compact reason {reason!r} is not one of {NO_COMPACT_REASONS}")
    local = f"{block_id}/{NO_COMPACT_MARK_FILENAME}"
    if tb.exists(local) and tb.exists(_no_compact_key(block_id)):
        return False
    doc = {"id": block_id, "version": 1, "details": details, "no_compact_time": int(now),
           "reason": reason}
    data = json.dumps(doc, indent="\t").encode()
    tb.put(local, data)
    tb.put(_no_compact_key(block_id), data)
    return True


def no_compact_marked(tb: Bucket) -> set[str]:
    """IDs of the tenant's blocks with a no-compact mark (global markers directory)."""
    out = set()
    for info in tb.iter_prefix(MARKERS_DIR):
        block_id, _, rest = info.key.rsplit("/", 1)[-1].partition("-")
        if rest == NO_COMPACT_MARK_FILENAME and is_block_id(block_id):
            out.add(block_id)
    return out


def _no_compact_key(block_id: str) -> str:
    return f"{MARKERS_DIR}/{block_id}-{NO_COMPACT_MARK_FILENAME}"


def delete_block(tb: Bucket, block_id: str) -> None:
    """Remove every object of the block, ``meta.json`` first and its deletion marks last."""
    tb.delete(f"{block_id}/{META_FILENAME}")
    local_mark = f"{block_id}/{DELETION_MARK_FILENAME}"
    for info in list(tb.iter_prefix(block_id)):
        if info.key != local_mark:
            tb.delete(info.key)
    tb.delete(local_mark)
    tb.delete(deletion_mark_key(block_id))
    tb.delete(_no_compact_key(block_id))
