"""The ingester: consumes one partition into per-tenant heads and serves them to queriers.

Flow of one fetch (see ``DESIGN.md``): the records are decoded and their
series resolved (created) in the tenants' heads, logged resolved to the local
WAL with one fsync, then their samples are appended, all in a dedicated
thread (so the event loop that serves HTTP is never blocked by ingestion);
then the consumed offset advances and waiters for read consistency wake up.
A background task commits the WAL-durable offset every
``consumer_group_offset_commit_interval``; stop() commits once more.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tidewell.ingest.config import IngestStorageConfig
from tidewell.ingest.log import PartitionReader, Record
from tidewell.ingester import metrics as m
from tidewell.ingester.compactor import compact_head, local_blocks, read_cut_marker
from tidewell.ingester.config import IngesterConfig
from tidewell.ingester.layout import IngesterLayout
from tidewell.ingester.limits import IngesterLimits, LocalLimits, StaticLimits
from tidewell.ingester.shipper import Shipper
from tidewell.ingester.snapshots import latest_snapshot, load_snapshot, write_snapshot
from tidewell.ingester.user_tsdb import TenantRegistry, TenantTSDB, TSDBState
from tidewell.ingester.wal import RecordWAL, ResolvedEntry
from tidewell.model import Exemplar, Labels
from tidewell.model.batch import SampleBatch
from tidewell.model.storage import Querier
from tidewell.objstore import Bucket, BucketError
from tidewell.tsdb.block import BlockReader
from tidewell.tsdb.config import TSDBConfig
from tidewell.tsdb.head import AppendResult, Head
from tidewell.util.services import Supervisor

__all__ = ["EmptyQuerier", "Ingester", "ReadConsistencyTimeoutError"]

log = logging.getLogger("tidewell.ingester")

Decoder = Callable[[bytes, int], SampleBatch]
FETCH_BYTES = 2 * 1024 * 1024


class LocalStateError(RuntimeError):
    """The local WAL, snapshot and blocks do not fit together; startup stops here."""


class ReadConsistencyTimeoutError(TimeoutError):
    """The ingester did not consume up to the requested offset in time (HTTP 503/504)."""


class EmptyQuerier:
    """Querier of a tenant the ingester holds no data for."""

    def select(self, matchers: Any) -> list:
        return []

    def label_names(self, matchers: Any = ()) -> list[str]:
        return []

    def label_values(self, name: str, matchers: Any = ()) -> list[str]:
        return []


def _default_decoder() -> Decoder:
    """Record values to batches; labels are built only for series a head does not know
    by their ``series_keys`` (no label cache: it would cost ~250 bytes per series)."""
    from tidewell.protocol.records import decode_record_value

    return decode_record_value


class Ingester:
    """One partition's consumer and the tenants' heads built from it."""

    def __init__(
        self,
        config: IngesterConfig,
        tsdb_config: TSDBConfig,
        ingest_config: IngestStorageConfig,
        limits: IngesterLimits | None,
        reader: PartitionReader,
        data_dir: str | Path,
        lifecycler: Any | None = None,
        *,
        decoder: Decoder | None = None,
        partition_count: Callable[[], int] = lambda: 1,
        bucket: Bucket | None = None,
    ) -> None:
        self.config = config
        self.tsdb_config = tsdb_config
        self.kafka = ingest_config.kafka
        self.limits: IngesterLimits = limits or StaticLimits()
        self.reader = reader
        self.lifecycler = lifecycler
        self.instance_id = config.ring.instance_id
        self.partition = config.partition_id
        self.group = self.kafka.consumer_group or self.instance_id
        self.dir = str(tsdb_config.resolved_dir(data_dir))
        self.layout = IngesterLayout(Path(self.dir))
        self.decoder = decoder or _default_decoder()
        self.partition_count = partition_count
        self.local_limits = LocalLimits(self.limits, lambda: self.partition_count())
        self.tenants = TenantRegistry(int(tsdb_config.block_ranges_period * 1000),
                                      self.local_limits,
                                      metadata_retain_s=config.metadata_retain_period)
        self.wal = RecordWAL(
            self.layout.wal_dir, self.partition, tsdb_config.wal_segment_size_bytes
        )
        self._plabel = str(self.partition)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"ingester-p{self.partition}")
        self._next_offset = 0
        """Next offset to consume: everything before it is in the heads."""
        self._durable_next = 0
        """Everything before it is in the local WAL or a snapshot (safe to commit)."""
        self._committed: int | None = None
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self.supervisor = Supervisor("ingester")
        """Consumer, offset commit and shipper loops: one failing fails the module."""
        self._ready = False
        self._ready_reason = "starting: replaying local state"
        self._phase = "starting"
        self._stopping = False
        self._stopped = False
        self._last_snapshot = time.monotonic()
        self._wal_at_snapshot = 0
        self._last_error_log = 0.0
        self._avg_record_bytes = 64 * 1024.0
        self._last_compaction = time.monotonic()
        self._ship_lock: asyncio.Lock | None = None
        self.shipper: Shipper | None = None
        """Uploads local blocks to ``bucket``; None: blocks stay local until retention."""
        if bucket is not None:
            self.shipper = Shipper(bucket, self.layout.tenants_dir,
                                   concurrency=tsdb_config.ship_concurrency)

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Replay local state, pick the start offset, and consume until caught up."""
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        local_next = await loop.run_in_executor(self._executor, self._load_local_state)
        m.WAL_REPLAY_DURATION.set(time.perf_counter() - t0)
        start = await self._start_offset(local_next)
        self._next_offset = self._durable_next = start
        self._committed = await self.reader.committed(self.group, self.partition)
        log.info(
            "partition consumer starting",
            extra={"fields": {"partition": self.partition, "offset": start,
                              "replay_seconds": round(time.perf_counter() - t0, 3)}},
        )
        if self.lifecycler is not None:
            await self.lifecycler.register(self.partition, self.instance_id)
            await self.lifecycler.reconcile_or_log()  # PENDING -> ACTIVE as soon as allowed
            self.lifecycler.start()
        self.supervisor.spawn("consumer", self._consume_loop)
        self.supervisor.every("offset-commit",
                              self.kafka.consumer_group_offset_commit_interval, self._commit)
        ship_interval = self.tsdb_config.ship_interval
        if self.shipper is None or ship_interval <= 0:
            ship_interval = self.tsdb_config.head_compaction_interval
        self.supervisor.every("shipper", ship_interval, self._ship_round)
        await self._catch_up()
        self._phase = "running"
        self._ready = True
        self._ready_reason = ""

    async def _catch_up(self) -> None:
        """Mimir's startup rule: not ready until the consumer lag is small enough."""
        max_lag = self.kafka.max_consumer_lag_at_startup
        if max_lag <= 0:
            return
        target = self.kafka.target_consumer_lag_at_startup
        deadline = time.monotonic() + max_lag
        for attempt in range(30):
            t0 = time.monotonic()
            end = await self.reader.end_offset(self.partition)
            self._ready_reason = f"catching up: offset {self._next_offset} of {end}"
            await self._wait_next(end, None)
            took = time.monotonic() - t0
            if took <= target or (took <= max_lag and time.monotonic() > deadline):
                break
            log.info(
                "partition consumer still lagging at startup",
                extra={"fields": {"partition": self.partition, "attempt": attempt,
                                  "lag_seconds": round(took, 3)}},
            )

    async def _start_offset(self, local_next: int | None) -> int:
        k, p = self.kafka, self.partition
        pos = k.consume_from_position_at_startup
        start = await self.reader.start_offset(p)
        if pos == "start":
            requested = start
        elif pos == "end":
            requested = await self.reader.end_offset(p)
        elif pos == "timestamp":
            requested = await self.reader.offset_for_timestamp(
                p, k.consume_from_timestamp_at_startup
            )
        else:
            committed = await self.reader.committed(self.group, p)
            requested = start if committed is None else committed
        if local_next is not None:
            # Local state is exact: going back before it would append records twice.
            requested = local_next if pos == "last-offset" else max(local_next, requested)
        if requested < start:
            log.warning(
                "records before the start position were deleted from the log",
                extra={"fields": {"partition": p, "wanted": requested, "start": start}},
            )
            requested = start
        return requested

    def ready(self) -> tuple[bool, str]:
        return self._ready, self._ready_reason

    @property
    def supervisors(self) -> list[Supervisor]:
        """Its loops and its partition lifecycler's: any failing fails the module."""
        lc = getattr(self.lifecycler, "supervisor", None)
        return [self.supervisor, *([lc] if isinstance(lc, Supervisor) else [])]

    async def stop(self) -> None:
        """Stop consuming, make the heads durable, commit the offset. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._stopping = True
        self._ready = False
        self._ready_reason = "stopping"
        await self.supervisor.stop()
        if self.lifecycler is not None:
            await self.lifecycler.stop()
        loop = asyncio.get_running_loop()
        if self.tsdb_config.memory_snapshot_on_shutdown:
            await loop.run_in_executor(self._executor, self._snapshot)
        await self._commit()
        for t in self.tenants:
            t.cas_state(TSDBState.ACTIVE, TSDBState.CLOSING)
        await loop.run_in_executor(self._executor, self.wal.close)
        self._executor.shutdown(wait=True)
        for _, fut in self._waiters:
            if not fut.done():
                fut.set_exception(ReadConsistencyTimeoutError("ingester is stopping"))
        self._waiters.clear()

    # -- consuming -------------------------------------------------------------

    async def _consume_loop(self) -> None:
        loop = asyncio.get_running_loop()
        backoff = 0.05
        while not self._stopping:
            if (
                time.monotonic() - self._last_compaction
                >= self.tsdb_config.head_compaction_interval
            ):
                await self._compact_safely()
            try:
                records = await self.reader.fetch(
                    self.partition, self._next_offset, self._fetch_size(),
                    self.config.fetch_wait,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("fetch failed, retrying",
                            extra={"fields": {"partition": self.partition, "err": str(exc)}})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            records = [r for r in records if r.offset >= self._next_offset]
            if not records:
                continue
            m.RECORDS_PER_FETCH.observe(len(records))
            size = sum(len(r.value) for r in records) / len(records)
            self._avg_record_bytes = 0.8 * self._avg_record_bytes + 0.2 * size
            while True:
                try:
                    nxt = await loop.run_in_executor(self._executor, self._apply, records)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # server error: retry, never skip
                    m.REQUESTS_FAILED.labels("server").inc()
                    log.error("failed to ingest records, retrying",
                              extra={"fields": {"partition": self.partition, "err": repr(exc)}})
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    records = [r for r in records if r.offset >= self._next_offset]
                    if not records:
                        nxt = self._next_offset
                        break
            backoff = 0.05
            self._advance(nxt)
            if self._snapshot_due():
                await loop.run_in_executor(self._executor, self._snapshot)

    def _snapshot_due(self) -> bool:
        """Time for a periodic snapshot: by age, or by WAL written since the last one.

        The size rule bounds the replay after a crash when data arrives faster than
        the interval expects (a catch-up, a backfill, a big tenant).
        """
        cfg = self.tsdb_config
        if cfg.memory_snapshot_interval > 0 and (
            time.monotonic() - self._last_snapshot > cfg.memory_snapshot_interval
        ):
            return True
        wal_size = cfg.memory_snapshot_wal_size_bytes
        return wal_size > 0 and self.wal.appended_bytes - self._wal_at_snapshot >= wal_size

    def _fetch_size(self) -> int:
        """Records per fetch: up to ``fetch_max_records``, about ``FETCH_BYTES`` in total.

        Readers may parse fetched records on the event loop; bounding a fetch's
        bytes bounds that pause (measured: about 7 ms per MB on the embedded log).
        """
        by_bytes = int(FETCH_BYTES / max(self._avg_record_bytes, 1.0))
        return max(1, min(self.config.fetch_max_records, by_bytes))

    def _advance(self, nxt: int) -> None:
        self._next_offset = nxt
        m.LAST_CONSUMED_OFFSET.labels(self._plabel).set(nxt - 1)
        if self._waiters:
            keep = []
            for target, fut in self._waiters:
                if nxt >= target:
                    if not fut.done():
                        fut.set_result(None)
                else:
                    keep.append((target, fut))
            self._waiters = keep

    def _apply(self, records: list[Record]) -> int:
        """Executor thread: resolve, WAL (one sync), then the heads. Returns the next offset."""
        resolved = [self._resolve(r) for r in records]
        self.wal.append([e for e, _ in resolved])
        self._durable_next = records[-1].offset + 1
        now_ms = time.time() * 1000
        delay = m.RECEIVE_DELAY.labels(self._phase)
        for r, (e, res) in zip(records, resolved, strict=True):
            delay.observe(max(0.0, (now_ms - r.timestamp_ms) / 1000))
            self._append_entry(e, res)
        return records[-1].offset + 1

    def _resolve(self, r: Record) -> tuple[ResolvedEntry, AppendResult | None]:
        """Decode a record and find or create its series: what the WAL logs for it.

        The result (None: nothing to append) carries the series-limit rejections.
        """
        m.REQUESTS.inc()
        tenant = r.key.decode("utf-8", "replace")
        entry = ResolvedEntry(r.offset, r.timestamp_ms, tenant)
        try:
            batch = self.decoder(r.value, r.version)
        except Exception as exc:
            m.REQUESTS_FAILED.labels("client").inc()
            log.error(
                "skipping record that cannot be decoded",
                extra={"fields": {"partition": r.partition, "offset": r.offset, "user": tenant,
                                  "version": r.version, "err": str(exc)}},
            )
            return entry, None
        if batch.num_samples == 0 and not batch.exemplars and not batch.metadata:
            return entry, None
        head = self._tenant(tenant).head
        max_series = self.local_limits.max_series(tenant)
        with head.lock:
            first = head.num_series
            entry.refs, entry.timestamps, entry.values, res = head.resolve(
                batch, max_series=max_series)
            if batch.histograms:
                entry.hist_refs, entry.hist_timestamps, entry.histograms = (
                    head.resolve_histograms(batch, max_series=max_series, result=res))
            entry.first_ref, entry.new_labels = first, head.labels[first:]
            entry.exemplars = _exemplars_of_known_series(batch, head)
        entry.metadata = batch.metadata
        entry.ooo_window_ms = int(self.limits.out_of_order_time_window(tenant) * 1000)
        return entry, res

    def _tenant(self, tenant: str) -> TenantTSDB:
        tsdb, created = self.tenants.get_or_create(tenant)
        if created:
            m.MEMORY_USERS.inc()
        return tsdb

    def _replay_entry(self, e: ResolvedEntry) -> None:
        """Recreate a logged entry's new series (same refs), then append its samples."""
        if e.state:
            self._apply_extras(self._tenant(e.tenant), e)
            return
        if not e.new_labels and e.refs.shape[0] == 0 and not e.has_extras:
            return
        head = self._tenant(e.tenant).head
        with head.lock:
            if head.num_series != e.first_ref:
                raise LocalStateError(
                    f"WAL entry at offset {e.offset} creates series from ref {e.first_ref} "
                    f"but tenant {e.tenant!r} has {head.num_series}: the WAL does not "
                    "continue the snapshot")
            for labels in e.new_labels:
                head.create_series(labels)
        self._append_entry(e, AppendResult(series_created=len(e.new_labels)))

    def _append_entry(self, e: ResolvedEntry, res: AppendResult | None) -> None:
        if res is None:
            return
        tenant = e.tenant
        tsdb = self._tenant(tenant)
        tsdb.head.append_resolved(
            e.refs, e.timestamps, e.values, ooo_window_ms=e.ooo_window_ms, result=res)
        if e.histograms:
            tsdb.head.append_histograms(e.hist_refs, e.hist_timestamps, e.histograms,
                                        ooo_window_ms=e.ooo_window_ms, result=res)
        self._apply_extras(tsdb, e)
        if res.series_created:
            m.MEMORY_SERIES.inc(res.series_created)
        if res.accepted:
            m.INGESTED_SAMPLES.labels(tenant).inc(res.accepted)
        if res.duplicates:
            m.DUPLICATE_SAMPLES.labels(tenant).inc(res.duplicates)
        if res.rejected:
            m.REQUESTS_FAILED.labels("client").inc()
            for reason, count in res.rejected.items():
                m.DISCARDED_SAMPLES.labels(reason=reason.value, user=tenant).inc(count)
            now = time.monotonic()
            if now - self._last_error_log > 1.0:
                self._last_error_log = now
                log.warning(
                    "samples rejected",
                    extra={"fields": {"partition": self.partition, "offset": e.offset,
                                      "user": tenant, "rejected": res.rejected_total,
                                      "err": res.first_error}},
                )

    @staticmethod
    def _apply_extras(tsdb: TenantTSDB, e: ResolvedEntry) -> None:
        """Exemplars and metadata of an entry into the tenant's stores."""
        if e.exemplars:
            appended = failed = 0
            for labels, exemplars in e.exemplars:
                got = tsdb.exemplars.add(labels, exemplars)
                appended += got.appended
                failed += got.rejected
            m.INGESTED_EXEMPLARS.inc(appended)
            if failed:
                m.INGESTED_EXEMPLARS_FAILURES.inc(failed)
        if e.metadata:
            md = tsdb.metadata.add(e.metadata)
            m.INGESTED_METADATA.inc(md.created + md.refreshed)
            if md.rejected:
                m.INGESTED_METADATA_FAILURES.inc(md.rejected)

    def _state_entries(self, next_offset: int) -> list[ResolvedEntry]:
        """Every tenant's exemplars and metadata, to log beside a head snapshot."""
        out = []
        for t in self.tenants:
            e = ResolvedEntry(next_offset - 1, 0, t.tenant, state=True,
                              exemplars=t.exemplars.by_arrival(),
                              metadata=t.metadata.query())
            if e.has_extras:
                out.append(e)
        return out

    # -- durability ------------------------------------------------------------

    def _load_local_state(self) -> int | None:
        """Executor thread: newest snapshot, then the WAL after it. None if no local state."""
        next_offset: int | None = None
        self.layout.migrate()
        snap = latest_snapshot(self.layout.snapshots_dir)
        if snap is not None:
            next_offset, path = snap
            for tenant, head in load_snapshot(path).items():
                self.tenants.put(tenant, head)
            m.MEMORY_USERS.inc(len(self.tenants))
            m.MEMORY_SERIES.inc(self.tenants.num_series())
        cuts = self._load_local_blocks(next_offset)
        replayed = 0
        for entry in self.wal.replay():
            if next_offset is not None and entry.offset < next_offset:
                if isinstance(entry, ResolvedEntry) and entry.state:
                    self._apply_extras(self._tenant(entry.tenant), entry)
                continue
            while cuts and cuts[0][0] <= entry.offset:
                self._replay_cut(*cuts.pop(0))
            if isinstance(entry, Record):  # written before WAL entries were resolved
                self._append_entry(*self._resolve(entry))
            else:
                self._replay_entry(entry)
            next_offset = entry.offset + 1
            replayed += 1
        for cut in cuts:
            self._replay_cut(*cut)
        log.info(
            "local state loaded",
            extra={"fields": {"partition": self.partition, "snapshot": snap[1] if snap else "",
                              "wal_records": replayed, "next_offset": next_offset}},
        )
        return next_offset

    def _load_local_blocks(self, snapshot_next: int | None) -> list[tuple[int, str, int]]:
        """Open every tenant's local blocks; return the cuts the snapshot does not reflect.

        Each is ``(offset, tenant, truncate_before)``: when replay reaches
        ``offset``, the head was truncated there (``compactor`` module docstring).
        """
        cuts: dict[tuple[int, str], int] = {}
        for name in self.layout.tenants():
            blocks = local_blocks(self.layout.tenant_dir(name))
            if not blocks:
                continue
            tsdb = self._tenant(name)
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

    def _replay_cut(self, offset: int, tenant: str, before: int) -> None:
        tsdb = self.tenants.get(tenant)
        if tsdb is None:
            return
        removed = tsdb.head.truncate(before)
        m.MEMORY_SERIES.dec(removed)
        log.info("replayed head truncation of a block cut",
                 extra={"fields": {"user": tenant, "offset": offset, "before": before}})

    # -- blocks ----------------------------------------------------------------

    def _compact(self, force: bool = False) -> int:
        """Executor thread: cut ready ranges of every head into blocks; return blocks cut."""
        self._last_compaction = time.monotonic()
        total = 0
        for t in self.tenants:
            metas, before = compact_head(t.head, self.layout.tenant_dir(t.tenant),
                                         self._durable_next, force=force)
            if before is None:
                continue
            # The blocks are on disk: whatever happens now, the head must be truncated
            # (or the next round would cut the same samples again). Queriers get the
            # blocks first, so no query misses samples moving out of the head.
            readers = []
            for mt in metas:
                try:
                    readers.append(BlockReader(os.path.join(self.layout.tenant_dir(t.tenant),
                                                            mt.ulid)))
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
        if total:
            # Not needed for correctness (cut markers are), but it lets the WAL go
            # and makes the next start replay less.
            self._snapshot()
        return total

    async def _compact_safely(self, force: bool = False) -> int:
        try:
            return await self.compact(force=force)
        except Exception as exc:
            log.error("head compaction failed, retrying at the next interval",
                      extra={"fields": {"partition": self.partition, "err": repr(exc)}})
            return 0

    async def snapshot_now(self) -> None:
        """Write a snapshot of every head now (on the append thread)."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._snapshot)

    async def compact(self, *, force: bool = False) -> int:
        """Cut every block that is ready now; return how many were cut.

        ``force`` also cuts the ranges still open (Mimir's ``/ingester/flush``).
        A failure is raised (the periodic round logs it and retries).
        """
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, self._compact, force
            )
        except Exception:
            m.COMPACTIONS_FAILED.inc()
            raise

    async def ship(self) -> int:
        """Upload unshipped local blocks now, then apply local retention (one at a time)."""
        if self._ship_lock is None:
            self._ship_lock = asyncio.Lock()
        async with self._ship_lock:
            uploaded = 0
            if self.shipper is not None:
                uploaded = await self.shipper.sync([t.tenant for t in self.tenants])
            await self._apply_retention()
            return uploaded

    async def _ship_round(self) -> None:
        """One round of the shipper loop; the bucket or disk being away is retried."""
        try:
            await self.ship()
        except (BucketError, OSError) as exc:
            log.error("shipping blocks failed, retrying at the next interval",
                      extra={"fields": {"err": repr(exc)}})

    async def _apply_retention(self) -> int:
        """Delete local blocks older than the retention period, but only shipped ones.

        As Prometheus's retention, age is measured in data time: a block goes
        once the newest local block ends ``retention_period`` after it. Without
        a bucket nothing ships, and blocks go by age alone.
        """
        retention_ms = int(self.tsdb_config.retention_period * 1000)
        deleted = 0
        for t in self.tenants:
            blocks = t.blocks
            if not blocks:
                continue
            newest = max(b.meta.max_time for b in blocks)
            shipped = self.shipper.shipped(t.tenant) if self.shipper is not None else None
            old = {
                b.meta.ulid for b in blocks
                if newest - b.meta.max_time >= retention_ms
                and (shipped is None or b.meta.ulid in shipped)
            }
            if not old:
                continue
            t.remove_blocks(old)
            for ulid in sorted(old):
                path = os.path.join(self.layout.tenant_dir(t.tenant), ulid)
                await asyncio.to_thread(_remove_block, path)
                deleted += 1
                m.LOCAL_BLOCKS_DELETED.inc()
                log.info("deleted local block after retention",
                         extra={"fields": {"user": t.tenant, "block": ulid}})
        return deleted

    def _snapshot(self) -> None:
        """Executor thread: snapshot every head, then drop the WAL it covers."""
        self._last_snapshot = time.monotonic()
        self._wal_at_snapshot = self.wal.appended_bytes
        nxt = self._durable_next
        if nxt == 0 and not len(self.tenants):
            return
        try:
            seg = self.wal.rotate()
            if nxt > 0:
                self.wal.append(self._state_entries(nxt))
                # The stores' copy is not new data: it must not call for the next snapshot.
                self._wal_at_snapshot = self.wal.appended_bytes
            heads = []
            for t in self.tenants:
                t.head.cut_chunks()
                heads.append((t.tenant, t.head))
            path = write_snapshot(self.layout.snapshots_dir, nxt, heads)
            self.wal.delete_before(seg)
            m.SNAPSHOTS.labels("success").inc()
            log.info("head snapshot written",
                     extra={"fields": {"partition": self.partition, "path": path}})
        except OSError as exc:
            m.SNAPSHOTS.labels("failure").inc()
            log.error("head snapshot failed", extra={"fields": {"err": str(exc)}})

    async def _commit(self) -> None:
        offset = self._durable_next
        if offset == 0 or offset == self._committed:
            return
        m.OFFSET_COMMIT_REQUESTS.labels(self._plabel).inc()
        try:
            await self.reader.commit(self.group, self.partition, offset)
        except Exception as exc:
            m.OFFSET_COMMIT_FAILURES.labels(self._plabel).inc()
            log.warning("offset commit failed",
                        extra={"fields": {"partition": self.partition, "err": str(exc)}})
            return
        self._committed = offset
        m.LAST_COMMITTED_OFFSET.labels(self._plabel).set(offset - 1)
        log.debug("committed offset",
                  extra={"fields": {"partition": self.partition, "offset": offset - 1}})


    # -- reading ---------------------------------------------------------------

    @property
    def consumed_offset(self) -> int:
        """Next offset to consume (all records before it are queryable)."""
        return self._next_offset

    async def _wait_next(self, target: int, timeout: float | None) -> None:
        if self._next_offset >= target:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (target, fut)
        self._waiters.append(entry)
        try:
            await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise ReadConsistencyTimeoutError(
                f"partition {self.partition}: consumed up to offset {self._next_offset - 1}, "
                f"waited for {target - 1} (see -ingest-storage.kafka."
                "wait-strong-read-consistency-timeout)"
            ) from None
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    async def wait_for_offset(self, offset: int, timeout: float | None = None) -> None:
        """Return once the record at ``offset`` (and all before it) is queryable."""
        if timeout is None:
            timeout = self.kafka.wait_strong_read_consistency_timeout or None
        await self._wait_next(offset + 1, timeout)

    async def wait_until_caught_up(self, end_offset: int, timeout: float | None = None) -> None:
        """Return once every record below ``end_offset`` (a high watermark) is queryable."""
        if timeout is None:
            timeout = self.kafka.wait_strong_read_consistency_timeout or None
        await self._wait_next(end_offset, timeout)

    async def wait_strong(self, timeout: float | None = None) -> None:
        """Strong read consistency: wait for everything produced before this call."""
        end = await self.reader.end_offset(self.partition)
        await self.wait_until_caught_up(end, timeout)

    def querier(self, tenant: str, mint: int, maxt: int) -> Querier:
        tsdb = self.tenants.get(tenant)
        if tsdb is None:
            return EmptyQuerier()
        return tsdb.querier(mint, maxt)

    def tenant_tsdb(self, tenant: str) -> TenantTSDB | None:
        return self.tenants.get(tenant)

    async def stored_samples(self, tenant: str) -> tuple[int, int]:
        """(samples in the head + in local blocks, local blocks), every copy counted.

        Counted on the append thread, so no cut moves samples meanwhile; equal to
        the merged query's sample count unless a sample is held twice.
        """

        def count() -> tuple[int, int]:
            t = self.tenants.get(tenant)
            if t is None:
                return 0, 0
            blocks = t.blocks
            return t.head.num_samples() + sum(b.meta.num_samples for b in blocks), len(blocks)

        return await asyncio.get_running_loop().run_in_executor(self._executor, count)


def _exemplars_of_known_series(
    batch: SampleBatch, head: Head
) -> list[tuple[Labels, list[Exemplar]]]:
    """The batch's exemplars grouped by series, for series the head holds.

    As Mimir's ingester: an exemplar needs its series (one refused by the
    series limit, or never sent a sample, has none); the others are counted in
    ``cortex_ingester_ingested_exemplars_failures_total``. Caller holds ``head.lock``.
    """
    if not batch.exemplars:
        return []
    by: dict[int, list[Exemplar]] = {}
    for i, ex in batch.exemplars:
        by.setdefault(i, []).append(ex)
    out = []
    missing = 0
    for i, exs in by.items():
        labels = batch.labels[i]
        if head.get_ref(labels) is None:
            missing += len(exs)
        else:
            out.append((labels, exs))
    if missing:
        m.INGESTED_EXEMPLARS_FAILURES.inc(missing)
    return out


def _remove_block(path: str) -> None:
    """Delete a block directory: meta.json first, so a crash never leaves a half block."""
    import shutil

    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(path, "meta.json"))
    shutil.rmtree(path, ignore_errors=True)
