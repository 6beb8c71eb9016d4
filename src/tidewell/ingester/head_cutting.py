"""Head compaction: cut finished ranges of a tenant's head into local blocks.

Blocks live in ``<tsdb dir>/tenants/<tenant>/<ULID>/`` (Prometheus layout, ``meta.json``
with Mimir's ``thanos`` section, source ``receive`` as Mimir's ingesters write).
A compaction round for one tenant (see ``tidewell.tsdb.head.compact`` for which
ranges):

1. every out-of-order range, then every finished in-order range, is written
   into ``<tenant>/.cutting/<ULID>/`` (complete and fsync'd by ``BlockWriter``),
   out-of-order blocks with Mimir's ``compaction.hints: ["from-out-of-order"]``;
2. each block gets a local-only ``tidewell-cut.json``: the offset the ingester
   had consumed when it was cut (``next_offset``) and the time below which its
   head may now be truncated (``truncate_before``);
3. the blocks are renamed into ``<tenant>/``, oldest first;
4. the head is truncated below the last block's end.

The cut marker makes restarts exact (``DESIGN.md``): a block whose
``next_offset`` is newer than the loaded snapshot is replayed as a truncation
at that point of the WAL, so data in blocks never returns to the head.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ulid import ULID

from tidewell.ingester import metrics as m
from tidewell.ingester.user_tsdb import TenantTSDB
from tidewell.tsdb.block import META_FILENAME, BlockMeta, BlockReader, BlockWriter
from tidewell.tsdb.head import Head
from tidewell.tsdb.head.compact import block_series, cut_ranges
from tidewell.util.fsync import fsync_dir

__all__ = [
    "BLOCK_SOURCE",
    "CUT_FILENAME",
    "OUT_OF_ORDER_HINT",
    "CutMarker",
    "compact_head",
    "cut_blocks",
    "is_block_dir",
    "local_blocks",
    "read_cut_marker",
]

log = logging.getLogger("tidewell.ingester")

BLOCK_SOURCE = "receive"
"""``thanos.source`` of blocks cut by ingesters (Mimir's ``block.ReceiveSource``)."""
OUT_OF_ORDER_HINT = "from-out-of-order"
CUT_FILENAME = "tidewell-cut.json"
"""Local-only marker inside a block directory; never uploaded."""
STAGING_DIR = ".cutting"


@dataclass(frozen=True, slots=True)
class CutMarker:
    next_offset: int
    truncate_before: int


def is_block_dir(name: str) -> bool:
    if len(name) != 26:
        return False
    try:
        ULID.from_str(name)
    except ValueError:
        return False
    return True


def local_blocks(tenant_dir: str | os.PathLike[str]) -> list[Path]:
    """Complete local blocks of a tenant (directories named by ULID with a meta.json)."""
    d = Path(tenant_dir)
    if not d.is_dir():
        return []
    return sorted(
        p for p in d.iterdir()
        if is_block_dir(p.name) and (p / META_FILENAME).is_file()
    )


def read_cut_marker(block_dir: str | os.PathLike[str]) -> CutMarker | None:
    try:
        d = json.loads((Path(block_dir) / CUT_FILENAME).read_text())
        return CutMarker(int(d["next_offset"]), int(d["truncate_before"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_json(path: Path, obj: object) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(obj, f, indent="\t")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _write_range(head: Head, staging: Path, lo: int, hi: int, ooo: bool) -> BlockMeta | None:
    """One block of the head's samples in ``[lo, hi)`` under ``staging``; None if empty."""
    w = BlockWriter(
        staging,
        min_time=None if ooo else lo,
        max_time=None if ooo else hi,
        source=BLOCK_SOURCE,
        chunk_range=head.block_range_ms,
    )
    try:
        any_series = False
        for labels, chunks in block_series(head, lo, hi):
            w.add_series_chunks(labels, chunks)
            any_series = True
    except BaseException:
        w.abort()
        raise
    if not any_series:
        w.abort()
        return None
    meta = w.finish()
    if ooo:
        path = w.path / META_FILENAME
        d = json.loads(path.read_text())
        d["compaction"]["hints"] = [OUT_OF_ORDER_HINT]
        _write_json(path, d)
    return meta


def compact_head(
    head: Head, tenant_dir: str | os.PathLike[str], next_offset: int, *, force: bool = False
) -> tuple[list[BlockMeta], int | None]:
    """Cut what is ready into blocks; return their metas and where to truncate the head.

    ``force`` cuts every range up to the newest sample (Mimir's flush, before a
    scale-down): afterwards samples older than the end of the newest range are
    late (stored out of order, cut into out-of-order blocks). The caller must be
    the head's only appender (the ingester's append thread) and truncates the head.
    """
    tdir = Path(tenant_dir)
    oranges, iranges = cut_ranges(head, force=force)
    if not oranges and not iranges:
        return [], None
    staging = tdir / STAGING_DIR
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    truncate_before = iranges[-1][1] if iranges else oranges[-1][1]
    cut: list[tuple[BlockMeta, int, bool]] = []
    try:
        for lo, hi in oranges:
            meta = _write_range(head, staging, lo, hi, True)
            if meta is not None:
                cut.append((meta, hi, True))
        for lo, hi in iranges:
            meta = _write_range(head, staging, lo, hi, False)
            if meta is not None:
                cut.append((meta, hi, False))
        for i, (meta, before, _) in enumerate(cut):
            # The last block of the round carries the round's truncation point, which
            # may lie past its own end when the newest ranges were empty.
            before = truncate_before if i == len(cut) - 1 else before
            _write_json(staging / meta.ulid / CUT_FILENAME,
                        {"next_offset": next_offset, "truncate_before": before})
            fsync_dir(staging / meta.ulid)
        for meta, _, _ in cut:  # oldest first: a crash leaves a usable prefix
            os.rename(staging / meta.ulid, tdir / meta.ulid)
        fsync_dir(tdir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for meta, _, ooo in cut:
        log.info(
            "head compacted into block",
            extra={"fields": {"block": meta.ulid, "minTime": meta.min_time,
                              "maxTime": meta.max_time, "series": meta.num_series,
                              "samples": meta.num_samples, "out_of_order": ooo}},
        )
    return [m for m, _, _ in cut], truncate_before


def cut_blocks(tenants: Iterable[TenantTSDB], tenant_dir: Callable[[str], str | os.PathLike[str]],
               next_offset: int, *, force: bool = False) -> int:
    """Append thread: cut ready ranges of every head into blocks; return blocks cut.

    ``next_offset`` is the durable offset the cut markers record; ``force`` also
    cuts the ranges still open.
    """
    total = 0
    for t in tenants:
        tdir = tenant_dir(t.tenant)
        metas, before = compact_head(t.head, tdir, next_offset, force=force)
        if before is None:
            continue
        # The blocks are on disk: whatever happens now, the head must be truncated
        # (or the next round would cut the same samples again). Queriers get the
        # blocks first, so no query misses samples moving out of the head.
        readers = []
        for mt in metas:
            try:
                readers.append(BlockReader(os.path.join(tdir, mt.ulid)))
            except Exception as exc:
                log.error("cannot open a block just cut; queryable after a restart",
                          extra={"fields": {"user": t.tenant, "block": mt.ulid,
                                            "err": repr(exc)}})
        t.add_blocks(readers)
        removed = t.head.truncate(before)
        m.MEMORY_SERIES.dec(removed)
        total += len(metas)
        if metas:
            m.COMPACTIONS.inc()
    return total
