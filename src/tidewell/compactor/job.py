"""Runs one compaction job: download the sources, merge, upload, then mark the sources.

The order is what makes a crash at any point harmless: until the new block's
``meta.json`` is uploaded (last) readers do not see it and the sources are
untouched; once it is, the sources are redundant and are marked for deletion.
If the process dies before marking, the next run's deduplicate filter finds
the sources inside the new block and marks them then.

A source that does not read back (``CorruptBlockError`` naming one of its files)
fails the job with ``CorruptSourceError``; the compactor marks it no-compact.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from tidewell.compactor import metrics as m
from tidewell.compactor.marks import mark_for_deletion
from tidewell.compactor.planner import COMPACTOR_SHARD_ID_LABEL, Job
from tidewell.model.errors import TidewellError
from tidewell.objstore import Bucket
from tidewell.objstore.bucketindex import DELETION_MARK_FILENAME
from tidewell.tsdb.block import BlockMeta, CorruptBlockError, block_files
from tidewell.tsdb.block.merge import merge_blocks, split_blocks

__all__ = ["CorruptSourceError", "download_block", "run_job", "upload_block"]

log = logging.getLogger("tidewell.compactor")


class CorruptSourceError(TidewellError):
    """A source block of a job failed its checks; ``block_id`` names it."""

    def __init__(self, block_id: str, cause: CorruptBlockError) -> None:
        super().__init__(f"block {block_id} is corrupt: {cause}")
        self.block_id = block_id
        self.cause = cause


def _corrupt_source(exc: CorruptBlockError, srcs: list[Path]) -> str | None:
    """The ID of the source block the error's file belongs to, if it names one."""
    if not exc.file:
        return None
    path = Path(exc.file).absolute()
    return next((s.name for s in srcs if path.is_relative_to(s.absolute())), None)


def download_block(tb: Bucket, block_id: str, dest: Path) -> Path:
    """Copy a block of the tenant bucket ``tb`` into ``dest/<ULID>`` (marks left out)."""
    out = dest / block_id
    for info in tb.iter_prefix(block_id):
        rel = info.key[len(block_id) + 1:]
        if rel == DELETION_MARK_FILENAME:
            continue
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tb.download_file(info.key, path)
    return out


def upload_block(tb: Bucket, block_dir: Path) -> None:
    """Upload a local block, ``meta.json`` last."""
    for rel in block_files(block_dir):
        tb.upload_file(f"{block_dir.name}/{rel}", block_dir / rel)


def run_job(
    tb: Bucket, job: Job, work_dir: Path, *, chunk_range: int, now: float
) -> list[BlockMeta]:
    """Merge (or split) the job's blocks into uploaded blocks; the sources are then marked."""
    jdir = work_dir / job.key
    shutil.rmtree(jdir, ignore_errors=True)
    try:
        srcs = [download_block(tb, b.block_id, jdir / "src") for b in job.blocks]
        try:
            if job.stage == "split":
                outputs = split_blocks(srcs, jdir / "out", shard_count=job.split_shards,
                                       shard_label=COMPACTOR_SHARD_ID_LABEL,
                                       min_time=job.min_time, max_time=job.max_time,
                                       thanos_labels=job.labels, chunk_range=chunk_range)
            else:
                outputs = [merge_blocks(srcs, jdir / "out", min_time=job.min_time,
                                        max_time=job.max_time, thanos_labels=job.labels,
                                        chunk_range=chunk_range)]
        except CorruptBlockError as exc:
            culprit = _corrupt_source(exc, srcs)
            if culprit is None:
                raise
            raise CorruptSourceError(culprit, exc) from exc
        for path, meta in outputs:
            if meta.num_samples:
                upload_block(tb, path)
        names = ", ".join(meta.ulid for _, meta in outputs) or "none (no samples)"
        for b in job.blocks:
            if mark_for_deletion(tb, b.block_id, f"source of compacted block(s) {names}", now):
                m.BLOCKS_MARKED_FOR_DELETION.labels("compaction").inc()
        m.GROUP_COMPACTIONS.inc()
        for _, meta in outputs:
            log.info("compacted blocks",
                     extra={"fields": {"block": meta.ulid, "stage": job.stage,
                                       "sources": len(job.blocks), "range": job.range_ms,
                                       "level": meta.compaction_level,
                                       "series": meta.num_series,
                                       "samples": meta.num_samples}})
        return [meta for _, meta in outputs]
    finally:
        shutil.rmtree(jdir, ignore_errors=True)
