"""Deletion marks and hard deletion of blocks, in Mimir's (Thanos's) layout and order.

A mark is written inside the block (``<ULID>/deletion-mark.json``) and in the
tenant's global markers directory (``markers/<ULID>-deletion-mark.json``), the
latter being what bucket-index builders read first. A block is deleted
``meta.json`` first (so no reader takes the remains for a complete block) and
its marks last.
"""

from __future__ import annotations

import json
import time

from tidewell.objstore import Bucket
from tidewell.objstore.bucketindex import (
    DELETION_MARK_FILENAME,
    META_FILENAME,
    deletion_mark_key,
)

__all__ = ["delete_block", "mark_for_deletion"]


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


def delete_block(tb: Bucket, block_id: str) -> None:
    """Remove every object of the block, ``meta.json`` first and its deletion marks last."""
    tb.delete(f"{block_id}/{META_FILENAME}")
    local_mark = f"{block_id}/{DELETION_MARK_FILENAME}"
    for info in list(tb.iter_prefix(block_id)):
        if info.key != local_mark:
            tb.delete(info.key)
    tb.delete(local_mark)
    tb.delete(deletion_mark_key(block_id))
