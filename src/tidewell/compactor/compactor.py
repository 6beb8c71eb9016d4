"""The compactor service: per tenant, compaction jobs and the blocks cleaner.

``compact_tenant`` loads every live block's ``meta.json`` (cached: blocks are
immutable), marks duplicates the deduplicate filter finds, and runs the
planner's jobs, planning again after each round until nothing is left, so 2h
blocks of two zones become one 2h block, then 12h and 24h blocks in one run
(as Thanos's bucket compactor loops until there is no work). ``clean`` runs the
blocks cleaner. Which work this instance does is the ring's business: every
compactor of a tenant's shard (``plans_tenant``) plans it and runs the jobs
``owns_job`` gives it (Mimir's job sharding); the cleaner runs for the tenants
``owns_tenant`` gives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tidewell.compactor import jobs_status
from tidewell.compactor import metrics as m
from tidewell.compactor.cleaner import CleanupResult, TenantLimits, clean_tenant
from tidewell.compactor.config import CompactorConfig
from tidewell.compactor.job import CorruptSourceError, run_job
from tidewell.compactor.marks import mark_for_deletion, mark_for_no_compaction, no_compact_marked
from tidewell.compactor.planner import Job, PlanBlock, deduplicate, plan
from tidewell.compactor.tenant_deletion import delete_tenant_data, read_tenant_deletion_mark
from tidewell.objstore import Bucket, ObjectNotFoundError, tenant_bucket
from tidewell.objstore.blockdedup import sources_from_meta
from tidewell.objstore.bucketindex import (
    META_FILENAME,
    BucketIndex,
    build_bucket_index,
    is_block_id,
)

__all__ = ["Compactor"]

log = logging.getLogger("tidewell.compactor")

_MAX_ROUNDS = 64


def _plan_block(meta: dict, uploaded_at: float) -> PlanBlock:
    thanos = meta.get("thanos") or {}
    src = sources_from_meta(meta)
    return PlanBlock(
        block_id=src.block_id,
        min_time=int(meta["minTime"]),
        max_time=int(meta["maxTime"]),
        level=src.level,
        uploaded_at=uploaded_at,
        labels=tuple(sorted((str(k), str(v)) for k, v in (thanos.get("labels") or {}).items())),
        sources=src.sources,
    )


class Compactor:
    """Runs its share of compaction jobs and cleanups; ``start`` loops until ``stop``."""

    def __init__(
        self,
        bucket: Bucket,
        config: CompactorConfig,
        data_dir: str | Path,
        *,
        limits: Callable[[str], TenantLimits] = lambda _t: TenantLimits(),
        owns_tenant: Callable[[str], bool] = lambda _t: True,
        owns_job: Callable[[str, Job], bool] = lambda _t, _j: True,
        plans_tenant: Callable[[str], bool] = lambda _t: True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        config.validate()
        self.bucket = bucket
        self.config = config
        self.data_dir = Path(data_dir)
        self.limits = limits
        self.owns_tenant = owns_tenant
        self.owns_job = owns_job
        self.plans_tenant = plans_tenant
        self.clock = clock
        self.ranges = config.block_ranges_ms()
        self._indexes: dict[str, BucketIndex] = {}
        self._metas: dict[str, dict[str, PlanBlock]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._task: asyncio.Task[None] | None = None
        self.jobs = jobs_status.JobsStatus(clock)

    # -- discovery ---------------------------------------------------------

    def tenants(self) -> list[str]:
        """Tenants with a directory in the bucket."""
        names = (p.rstrip("/") for p in self.bucket.list_dir("").prefixes)
        return sorted(n for n in names if not is_block_id(n))

    def live_blocks(self, tenant: str) -> list[PlanBlock]:
        """Complete blocks of the tenant without a deletion or no-compact mark."""
        tb = tenant_bucket(self.bucket, tenant)
        index, _ = build_bucket_index(self.bucket, tenant, self._indexes.get(tenant),
                                      now=self.clock())
        self._indexes[tenant] = index
        marked = index.deletion_marks().keys() | no_compact_marked(tb)
        cached = self._metas.get(tenant, {})
        metas: dict[str, PlanBlock] = {}
        for b in index.blocks:
            if b.block_id in marked:
                continue
            pb = cached.get(b.block_id)
            if pb is None:
                try:
                    meta = json.loads(tb.get(f"{b.block_id}/{META_FILENAME}"))
                except ObjectNotFoundError:
                    continue
                pb = _plan_block(meta, float(b.uploaded_at))
            metas[b.block_id] = pb
        self._metas[tenant] = metas
        return list(metas.values())

    # -- compaction --------------------------------------------------------

    def plan_tenant(self, tenant: str, *, mark_duplicates: bool = True) -> list[Job]:
        """Jobs for the tenant now; duplicates found on the way are marked for deletion
        (unless ``mark_duplicates`` is False: the status page only looks)."""
        kept, dups = deduplicate(self.live_blocks(tenant))
        tb = tenant_bucket(self.bucket, tenant)
        for b in dups if mark_duplicates else ():
            if mark_for_deletion(tb, b.block_id, "duplicate of a compacted block", self.clock()):
                m.BLOCKS_MARKED_FOR_DELETION.labels("compaction").inc()
        limits = self.limits(tenant)
        return plan(kept, self.ranges, now=self.clock(),
                    first_level_wait_s=self.config.first_level_compaction_wait_period,
                    split_shards=limits.split_and_merge_shards,
                    split_groups=limits.split_groups)

    def compact_tenant(self, tenant: str) -> int:
        """Run jobs until the plan is empty; returns how many ran."""
        tb = tenant_bucket(self.bucket, tenant)
        work = self.data_dir / tenant
        done = 0
        with ThreadPoolExecutor(self.config.compaction_concurrency) as pool:
            for _ in range(_MAX_ROUNDS):
                jobs = [j for j in self.plan_tenant(tenant) if self.owns_job(tenant, j)]
                if not jobs:
                    break
                futures = [pool.submit(self.jobs.track, tenant, j, run_job, tb, j, work,
                                       chunk_range=self.ranges[0], now=self.clock())
                           for j in jobs]
                for f in futures:
                    try:
                        f.result()
                        done += 1
                    except CorruptSourceError as exc:  # skip the block, not the tenant
                        m.GROUP_COMPACTION_FAILURES.inc()
                        self._mark_no_compact(tb, tenant, exc)
                    except Exception:
                        m.GROUP_COMPACTION_FAILURES.inc()
                        raise
        return done

    def _mark_no_compact(self, tb: Bucket, tenant: str, exc: CorruptSourceError) -> None:
        reason = ("block-index-out-of-order-chunk" if "out of order" in str(exc.cause)
                  else "critical")
        if mark_for_no_compaction(tb, exc.block_id, reason, str(exc.cause), self.clock()):
            m.BLOCKS_MARKED_FOR_NO_COMPACTION.labels(reason).inc()
        log.error("block marked for no-compaction", extra={"fields": {
            "user": tenant, "block": exc.block_id, "reason": reason, "err": str(exc.cause)}})

    def compact(self) -> bool:
        """One compaction run over every tenant (running the jobs this instance owns);
        True if every tenant succeeded."""
        m.RUNS_STARTED.inc()
        tenants = self.tenants()
        deleted = [t for t in tenants if read_tenant_deletion_mark(self.bucket, t) is not None]
        m.TENANTS_DISCOVERED.set(len(tenants))
        m.TENANTS_SKIPPED.set(len(deleted))
        m.TENANTS_SUCCEEDED.set(0)
        m.TENANTS_FAILED.set(0)
        ok = True
        for tenant in tenants:
            if tenant in deleted or not self.plans_tenant(tenant):
                continue
            try:
                self.compact_tenant(tenant)
                m.TENANTS_SUCCEEDED.inc()
            except Exception:
                ok = False
                m.TENANTS_FAILED.inc()
                log.exception("failed to compact tenant", extra={"fields": {"user": tenant}})
        if ok:
            m.RUNS_COMPLETED.inc()
            m.LAST_SUCCESSFUL_RUN.set(self.clock())
        else:
            m.RUNS_FAILED.labels("error").inc()
        return ok

    # -- cleanup -----------------------------------------------------------

    def clean_tenant(self, tenant: str) -> CleanupResult | None:
        """Run the blocks cleaner on one tenant (one run per tenant at a time).

        A tenant marked for deletion loses its blocks instead (None is returned).
        """
        with self._locks_guard:
            lock = self._locks.setdefault(tenant, threading.Lock())
        with lock:
            if read_tenant_deletion_mark(self.bucket, tenant) is not None:
                deleted = delete_tenant_data(self.bucket, tenant, now=self.clock(),
                                             cleanup_delay=self.config.tenant_cleanup_delay)
                m.BLOCKS_CLEANED.inc(deleted)
                return None
            return clean_tenant(self.bucket, tenant, now=self.clock(),
                                deletion_delay=self.config.deletion_delay,
                                limits=self.limits(tenant))

    def clean(self) -> bool:
        """One blocks-cleaner run over the owned tenants; True if all succeeded."""
        m.CLEANUP_STARTED.inc()
        ok = True
        for tenant in self.tenants():
            if not self.owns_tenant(tenant):
                continue
            try:
                self.clean_tenant(tenant)
            except Exception:
                ok = False
                log.exception("blocks cleanup failed", extra={"fields": {"user": tenant}})
        if ok:
            m.CLEANUP_COMPLETED.inc()
            m.CLEANUP_LAST_SUCCESS.set(self.clock())
        else:
            m.CLEANUP_FAILED.inc()
        return ok

    # -- service -----------------------------------------------------------

    async def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._task = asyncio.create_task(self.run(), name="compactor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run(self) -> None:
        """Cleanup and compaction, each on its own interval, until cancelled."""
        async def loop(fn: Callable[[], bool], interval: float) -> None:
            while True:
                try:
                    await asyncio.to_thread(fn)
                except Exception:
                    log.exception("compactor loop iteration failed")
                await asyncio.sleep(interval)

        await asyncio.gather(loop(self.clean, self.config.cleanup_interval),
                             loop(self.compact, self.config.compaction_interval))
