"""The ingester: one partition's records into per-tenant heads, served to queriers.

The partition consumer (``tidewell.ingest.consumer``) fetches records and hands
them to :meth:`Ingester.push`: the records are decoded and their series
resolved (created) in the tenants' heads, logged resolved to the local WAL with
one fsync, then their samples are appended, all in a dedicated thread (so the
event loop that serves HTTP is never blocked by ingestion). Replay
(``replay.py``), head cutting (``head_cutting.py``) and shipping
(``shipper.py``) live in their own modules; this one wires them together.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tidewell.ingest import metrics as rm
from tidewell.ingest.config import IngestStorageConfig
from tidewell.ingest.consumer import MAX_RECORD_ATTEMPTS, PartitionConsumer, RecordFailedError
from tidewell.ingest.log import PartitionReader, Record
from tidewell.ingester import metrics as m
from tidewell.ingester.appender import (
    Decoder,
    RecordAppender,
    ResolveFailedError,
    default_decoder,
)
from tidewell.ingester.config import IngesterConfig
from tidewell.ingester.head_cutting import cut_blocks
from tidewell.ingester.layout import IngesterLayout
from tidewell.ingester.limits import IngesterLimits, LocalLimits, StaticLimits
from tidewell.ingester.replay import load_local_state
from tidewell.ingester.shipper import Shipper, apply_retention
from tidewell.ingester.snapshots import write_snapshot
from tidewell.ingester.user_tsdb import TenantRegistry, TenantTSDB, TSDBState
from tidewell.ingester.wal import RecordWAL, ResolvedEntry
from tidewell.model.storage import Querier
from tidewell.objstore import Bucket, BucketError
from tidewell.tsdb.config import TSDBConfig
from tidewell.tsdb.head import INT64_MIN, AppendResult
from tidewell.tsdb.head.head_append import appendable_min_time
from tidewell.util.services import Supervisor

__all__ = ["EmptyQuerier", "Ingester"]

log = logging.getLogger("tidewell.ingester")


class EmptyQuerier:
    """Querier of a tenant the ingester holds no data for."""

    def select(self, matchers: Any, hints: Any = None) -> list:
        return []

    def label_names(self, matchers: Any = ()) -> list[str]:
        return []

    def label_values(self, name: str, matchers: Any = ()) -> list[str]:
        return []


class Ingester:
    """One partition's heads, fed by its partition consumer (the ingester is its Pusher)."""

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
        """The log client (fetch, offsets); the consumer drives it."""
        self.lifecycler = lifecycler
        self.instance_id = config.ring.instance_id
        self.partition = config.partition_id
        self.group = self.kafka.consumer_group or self.instance_id
        self.dir = str(tsdb_config.resolved_dir(data_dir))
        self.layout = IngesterLayout(Path(self.dir))
        self.partition_count = partition_count
        self.local_limits = LocalLimits(self.limits, lambda: self.partition_count())
        self.tenants = TenantRegistry(int(tsdb_config.block_ranges_period * 1000),
                                      self.local_limits,
                                      metadata_retain_s=config.metadata_retain_period)
        self.appender = RecordAppender(self.tenants, self.limits, self.local_limits,
                                       decoder or default_decoder(), self.partition)
        self.wal = RecordWAL(
            self.layout.wal_dir, self.partition, tsdb_config.wal_segment_size_bytes
        )
        self.consumer = PartitionConsumer(
            reader, self.partition, self.group, self.kafka, self,
            fetch_max_records=config.fetch_max_records, fetch_wait=config.fetch_wait,
        )
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"ingester-p{self.partition}")
        self._durable_next = 0
        """Everything before it is in the local WAL or a snapshot (safe to commit)."""
        self.supervisor = Supervisor("ingester")
        """Consumer, offset commit and shipper loops: one failing fails the module."""
        self._ready = False
        self._ready_reason = "starting: replaying local state"
        self._phase = "starting"
        self._stopped = False
        self._last_snapshot = time.monotonic()
        self._wal_at_snapshot = 0
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
        local_next = await loop.run_in_executor(
            self._executor, load_local_state, self.layout, self.wal, self.appender,
            self.partition)
        m.WAL_REPLAY_DURATION.set(time.perf_counter() - t0)
        start = await self.consumer.start_at(local_next)
        self._durable_next = start
        log.info(
            "partition consumer starting",
            extra={"fields": {"partition": self.partition, "offset": start,
                              "replay_seconds": round(time.perf_counter() - t0, 3)}},
        )
        if self.lifecycler is not None:
            await self.lifecycler.register(self.partition, self.instance_id)
            await self.lifecycler.reconcile_or_log()  # PENDING -> ACTIVE as soon as allowed
            self.lifecycler.start()
        self.consumer.run(self.supervisor)
        ship_interval = self.tsdb_config.ship_interval
        if self.shipper is None or ship_interval <= 0:
            ship_interval = self.tsdb_config.head_compaction_interval
        self.supervisor.every("shipper", ship_interval, self._ship_round)
        await self.consumer.catch_up(self._report)
        self._phase = "running"
        self._ready = True
        self._ready_reason = ""

    def _report(self, reason: str) -> None:
        self._ready_reason = reason

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
        self._ready = False
        self._ready_reason = "stopping"
        self.consumer.halt()
        await self.supervisor.stop()
        if self.lifecycler is not None:
            await self.lifecycler.stop()
        loop = asyncio.get_running_loop()
        if self.tsdb_config.memory_snapshot_on_shutdown:
            await loop.run_in_executor(self._executor, self._snapshot)
        await self.consumer.stop()
        for t in self.tenants:
            t.cas_state(TSDBState.ACTIVE, TSDBState.CLOSING)
        await loop.run_in_executor(self._executor, self.wal.close)
        self._executor.shutdown(wait=True)

    # -- the consumer's Pusher -------------------------------------------------

    async def push(self, records: Sequence[Record]) -> int:
        """Append fetched records on the append thread; return the next offset."""
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, self._apply, records)

    def durable_offset(self) -> int:
        return self._durable_next

    async def skip(self, offset: int, tenant: str) -> None:
        """Log the skipped record as consumed: an empty WAL entry at its offset.

        Without it, a skipped record with nothing after it stayed below the
        durable offset: committed offset and local state both pointed at it, and
        a restart fetched it, failed and skipped it again.
        """
        await asyncio.get_running_loop().run_in_executor(
            self._executor, self._skip, offset, tenant)

    def _skip(self, offset: int, tenant: str) -> None:
        if offset < self._durable_next:
            return  # already logged (a retried skip)
        self.wal.append([ResolvedEntry(offset, 0, tenant)])
        self._durable_next = offset + 1

    async def maintain(self) -> None:
        """Between fetches: cut heads into blocks, then snapshot, when each is due."""
        if (
            time.monotonic() - self._last_compaction
            >= self.tsdb_config.head_compaction_interval
        ):
            await self._compact_safely()
        if self._snapshot_due():
            await asyncio.get_running_loop().run_in_executor(self._executor, self._snapshot)

    def _snapshot_due(self) -> bool:
        """Time for a periodic snapshot, once something was logged since the last one:
        by age, or by WAL written since the last one.

        The size rule bounds the replay after a crash when data arrives faster than
        the interval expects (a catch-up, a backfill, a big tenant).
        """
        cfg = self.tsdb_config
        written = self.wal.appended_bytes - self._wal_at_snapshot
        if written <= 0:
            return False
        if cfg.memory_snapshot_interval > 0 and (
            time.monotonic() - self._last_snapshot > cfg.memory_snapshot_interval
        ):
            return True
        wal_size = cfg.memory_snapshot_wal_size_bytes
        return wal_size > 0 and written >= wal_size

    def _apply(self, records: Sequence[Record]) -> int:
        """Executor thread: resolve, WAL (one sync), then the heads. Returns the next offset.

        A record that cannot be decoded or resolved stops the batch there: the
        records before it are logged and appended, then :class:`RecordFailedError`
        has the consumer retry or skip it (:meth:`skip`).
        """
        resolved: list[tuple[ResolvedEntry, AppendResult | None]] = []
        failed: RecordFailedError | None = None
        for r in records:
            try:
                resolved.append(self.appender.resolve(r))
            except ResolveFailedError as exc:
                if exc.orphans is not None:
                    resolved.append((exc.orphans, None))
                failed = RecordFailedError(r.offset, exc.tenant, exc.cause, exc.kind)
                break
        if resolved:
            self.wal.append([e for e, _ in resolved])
            self._durable_next = failed.offset if failed else records[-1].offset + 1
        now_ms = time.time() * 1000
        delay = rm.RECEIVE_DELAY.labels(self._phase)
        for r, (e, res) in zip(records, resolved, strict=False):
            delay.observe(max(0.0, (now_ms - r.timestamp_ms) / 1000))
            self.appender.append_or_skip(e, res, MAX_RECORD_ATTEMPTS)
        if failed is not None:
            raise failed
        return records[-1].offset + 1

    # -- blocks and snapshots --------------------------------------------------

    def _compact(self, force: bool = False) -> int:
        """Executor thread: cut ready ranges of every head into blocks; return blocks cut."""
        self._last_compaction = time.monotonic()
        total = cut_blocks(self.tenants, self.layout.tenant_dir, self._durable_next, force=force)
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
            # -blocks-storage.tsdb.ship-interval=0 disables shipping (Mimir's meaning).
            if self.shipper is not None and self.tsdb_config.ship_interval > 0:
                uploaded = await self.shipper.sync([t.tenant for t in self.tenants])
            await apply_retention(self.tenants, self.layout.tenant_dir, self.shipper,
                                  int(self.tsdb_config.retention_period * 1000))
            return uploaded

    async def _ship_round(self) -> None:
        """One round of the shipper loop; the bucket or disk being away is retried."""
        try:
            await self.ship()
        except (BucketError, OSError) as exc:
            log.error("shipping blocks failed, retrying at the next interval",
                      extra={"fields": {"err": repr(exc)}})

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
                self.wal.append(self.appender.state_entries(nxt))
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

    # -- reading ---------------------------------------------------------------

    @property
    def consumed_offset(self) -> int:
        """Next offset to consume (all records before it are queryable)."""
        return self.consumer.consumed_offset

    async def wait_for_offset(self, offset: int, timeout: float | None = None) -> None:
        """Return once the record at ``offset`` (and all before it) is queryable."""
        await self.consumer.wait_for_offset(offset, timeout)

    async def wait_until_caught_up(self, end_offset: int, timeout: float | None = None) -> None:
        """Return once every record below ``end_offset`` (a high watermark) is queryable."""
        await self.consumer.wait_until_caught_up(end_offset, timeout)

    async def wait_strong(self, timeout: float | None = None) -> None:
        """Strong read consistency: wait for everything produced before this call."""
        await self.consumer.wait_strong(timeout)

    def querier(self, tenant: str, mint: int, maxt: int) -> Querier:
        tsdb = self.tenants.get(tenant)
        if tsdb is None:
            return EmptyQuerier()
        return tsdb.querier(mint, maxt)

    def tenant_tsdb(self, tenant: str) -> TenantTSDB | None:
        return self.tenants.get(tenant)

    def appendable_floors(self, tenant: str) -> dict[int, int]:
        """{partition: the oldest timestamp the tenant's head could still store}.

        The distributor refuses series wholly older with 400: the head's appendable
        minimum, or with an out-of-order window the lower of it and the head's newest
        sample minus the window. Older samples that reach the head anyway are stored
        out of order (late, ``tidewell_ingester_late_samples_appended_total``). Empty
        when the head has no sample yet (it takes anything). Read without the head's
        lock from the event loop: both bounds only grow, so a stale read is lower.
        """
        t = self.tenants.get(tenant)
        floor = None if t is None else self._floor_of(t)
        return {} if floor is None else {self.partition: floor}

    def tenant_floors(self) -> dict[str, int]:
        """Every tenant's floor (see :meth:`appendable_floors`); tenants whose head is
        empty are left out. Served to distributors in other processes."""
        floors = {}
        for t in self.tenants:
            floor = self._floor_of(t)
            if floor is not None:
                floors[t.tenant] = floor
        return floors

    def _floor_of(self, t: TenantTSDB) -> int | None:
        head = t.head
        if head.max_time == INT64_MIN:
            return None
        floor = appendable_min_time(head)
        ooo_ms = int(self.limits.out_of_order_time_window(t.tenant) * 1000)
        if ooo_ms > 0:
            floor = min(floor, head.max_time - ooo_ms)
        return floor

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
