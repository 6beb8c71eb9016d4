"""Startup replay: rebuild the heads from the newest snapshot, local blocks and the WAL.

Runs once, on the append thread, before the partition consumer starts; the
offset it returns is where local state ends (the consumer never starts before it).
"""

from __future__ import annotations

import logging

from tidewell.ingest.log import Record
from tidewell.ingester import metrics as m
from tidewell.ingester.appender import RecordAppender, apply_extras
from tidewell.ingester.head_cutting import local_blocks, read_cut_marker
from tidewell.ingester.layout import IngesterLayout
from tidewell.ingester.snapshots import latest_snapshot, load_snapshot
from tidewell.ingester.wal import RecordWAL, ResolvedEntry
from tidewell.tsdb.block import BlockReader

__all__ = ["load_local_state"]

log = logging.getLogger("tidewell.ingester")


def load_local_state(layout: IngesterLayout, wal: RecordWAL, appender: RecordAppender,
                     partition: int) -> int | None:
    """Newest snapshot, then local blocks, then the WAL after it.

    Returns the next offset local state holds, None if there is no local state.
    """
    tenants = appender.tenants
    next_offset: int | None = None
    layout.migrate()
    snap = latest_snapshot(layout.snapshots_dir)
    if snap is not None:
        next_offset, path = snap
        for tenant, head in load_snapshot(path).items():
            tenants.put(tenant, head)
        m.MEMORY_USERS.inc(len(tenants))
        m.MEMORY_SERIES.inc(tenants.num_series())
    cuts = _load_local_blocks(layout, appender, next_offset)
    replayed = 0
    covered = next_offset  # the snapshot holds every entry before it
    for entry in wal.replay():
        if covered is not None and entry.offset < covered:
            if isinstance(entry, ResolvedEntry) and entry.state:
                apply_extras(appender.tenant(entry.tenant), entry)
            continue
        while cuts and cuts[0][0] <= entry.offset:
            _replay_cut(appender, *cuts.pop(0))
        if isinstance(entry, Record):  # written before WAL entries were resolved
            appender.append(*appender.resolve(entry))
        else:
            appender.replay(entry)
        # Not simply the entry's: the series of a record that failed are logged at the
        # offset before it (``ResolveFailedError``), after that offset's own entry.
        next_offset = max(next_offset or 0, entry.offset + 1)
        replayed += 1
    for cut in cuts:
        _replay_cut(appender, *cut)
    log.info(
        "local state loaded",
        extra={"fields": {"partition": partition, "snapshot": snap[1] if snap else "",
                          "wal_records": replayed, "next_offset": next_offset}},
    )
    return next_offset


def _load_local_blocks(layout: IngesterLayout, appender: RecordAppender,
                       snapshot_next: int | None) -> list[tuple[int, str, int]]:
    """Open every tenant's local blocks; return the cuts the snapshot does not reflect.

    Each is ``(offset, tenant, truncate_before)``: when replay reaches
    ``offset``, the head was truncated there (``head_cutting`` module docstring).
    """
    cuts: dict[tuple[int, str], int] = {}
    for name in layout.tenants():
        blocks = local_blocks(layout.tenant_dir(name))
        if not blocks:
            continue
        tsdb = appender.tenant(name)
        readers = []
        for b in blocks:
            try:
                readers.append(BlockReader(b))
            except Exception as exc:
                log.error("cannot open local block, not querying it",
                          extra={"fields": {"user": name, "block": b.name, "err": str(exc)}})
                continue
            marker = read_cut_marker(b)
            # A snapshot at the cut's own offset may predate the cut: truncating
            # again is a no-op when it does not.
            if marker is not None and (
                snapshot_next is None or marker.next_offset >= snapshot_next
            ):
                key = (marker.next_offset, name)
                cuts[key] = max(cuts.get(key, marker.truncate_before),
                                marker.truncate_before)
        tsdb.add_blocks(readers)
    return sorted((off, tenant, before) for (off, tenant), before in cuts.items())


def _replay_cut(appender: RecordAppender, offset: int, tenant: str, before: int) -> None:
    tsdb = appender.tenants.get(tenant)
    if tsdb is None:
        return
    removed = tsdb.head.truncate(before)
    m.MEMORY_SERIES.dec(removed)
    log.info("replayed head truncation of a block cut",
             extra={"fields": {"user": tenant, "offset": offset, "before": before}})
