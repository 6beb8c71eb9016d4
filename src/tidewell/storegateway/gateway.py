"""The store-gateway service: keeps each tenant's set of blocks in step with its
bucket index and answers queries over them.

``start()`` runs a first sync (the service is ready after it), then syncs every
``sync_interval``. A sync reads each tenant's ``bucket-index.json.gz``: new
blocks are added (their index is only downloaded when a query first needs it),
blocks gone from the index, or marked for deletion longer than
``ignore_deletion_mark_delay`` ago, or replaced by a compacted successor
(``dedup_filter``), are dropped together with their local files and cache entries.

With a ``sharding`` strategy (store-gateways in a cluster, see ``sharding``) a
gateway loads only the blocks the ring assigns to it, re-evaluated at every
sync and whenever the ring changes (checked every ``ring_check_period``
seconds: a gateway joined, left, or stopped heartbeating). Without one (a
single process) it loads every block.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path

from tidewell.objstore import Bucket, tenant_bucket
from tidewell.objstore.bucketindex import (
    INDEX_COMPRESSED_FILENAME,
    BucketIndex,
    BucketIndexCorruptedError,
    BucketIndexNotFoundError,
    IndexBlock,
    check_not_stale,
    is_block_id,
    read_bucket_index,
)
from tidewell.storegateway import metrics as m
from tidewell.storegateway.block_querier import BucketStoreQuerier
from tidewell.storegateway.bucket_block import BucketBlock
from tidewell.storegateway.cache import ByteLRU, IndexCache
from tidewell.storegateway.config import BucketStoreConfig
from tidewell.storegateway.dedup_filter import DeduplicateFilter
from tidewell.storegateway.sharding import ShardingStrategy
from tidewell.util.expiring import ExpiringCache
from tidewell.util.services import Supervisor

__all__ = ["StoreGateway"]

log = logging.getLogger("tidewell.storegateway")

_UNKNOWN_TENANT_RETRY = 30.0
_UNKNOWN_TENANTS_KEPT = 10_000
RING_CHECK_PERIOD = 5.0  # Mimir's store-gateway ring check period


class _TenantBlocks:
    def __init__(self) -> None:
        self.blocks: dict[str, BucketBlock] = {}
        self.index: BucketIndex | None = None


class StoreGateway:
    """Implements ``tidewell.model.Queryable`` over the blocks in ``bucket``.

    ``bucket`` is the root bucket (tenants are its top-level directories);
    ``sync_dir`` holds downloaded block indexes as ``<tenant>/<ULID>/index``.
    ``sharding`` limits the blocks loaded to this gateway's share (None: all).
    """

    def __init__(
        self,
        config: BucketStoreConfig,
        bucket: Bucket,
        sync_dir: str | Path,
        *,
        now: Callable[[], float] = time.time,
        sharding: ShardingStrategy | None = None,
        ring_check_period: float = RING_CHECK_PERIOD,
    ) -> None:
        config.validate()
        self.config = config
        self.bucket = bucket
        self.sync_dir = Path(sync_dir)
        self.now = now
        self.sharding = sharding
        self.ring_check_period = ring_check_period
        self.index_cache = IndexCache(config.index_cache.inmemory.max_size_bytes)
        chunk_bytes = (
            config.chunks_cache.inmemory.max_size_bytes if config.chunks_cache.backend else 0
        )
        self.chunks_cache = ByteLRU(chunk_bytes)
        self._tenants: dict[str, _TenantBlocks] = {}
        # Alone, a gateway adds a successor and drops its sources in one sync; sharded,
        # it waits the queriers' upload grace (3 sync intervals) for the successor's owner.
        self.dedup = DeduplicateFilter(0.0 if sharding is None else 3 * config.sync_interval)
        # tenants asked for but not in the bucket at their last check: any number of
        # them may be asked for, so the memory of them expires and is capped
        self._unknown_checked: ExpiringCache[str, bool] = ExpiringCache(
            _UNKNOWN_TENANT_RETRY, _UNKNOWN_TENANTS_KEPT)
        self._lock = threading.Lock()
        self._synced = False
        self.supervisor = Supervisor("store-gateway")
        """The sync loop: failing, it fails the module."""

    # -- service ---------------------------------------------------------------

    async def start(self) -> None:
        self.sync_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self.sync)
        self.supervisor.spawn("sync", self._loop)

    async def stop(self) -> None:
        await self.supervisor.stop()
        with self._lock:
            for tb in self._tenants.values():
                for block in tb.blocks.values():
                    block.close()
            self._tenants.clear()
        m.BLOCKS_LOADED.set(0)

    def ready(self) -> tuple[bool, str]:
        if not self._synced:
            return False, "store-gateway has not synced the bucket index yet"
        return True, ""

    def _ring_state(self) -> Hashable:
        return self.sharding.ring_state() if self.sharding is not None else None

    async def _loop(self) -> None:
        """Sync every ``sync_interval``, and at once when the ring changed."""
        ring_state = self._ring_state()
        next_sync = time.monotonic() + self.config.sync_interval
        while True:
            wait = next_sync - time.monotonic()
            if self.sharding is not None:
                wait = min(wait, self.ring_check_period)
            await asyncio.sleep(max(0.0, wait))
            reason = "periodic" if time.monotonic() >= next_sync else ""
            state = self._ring_state()
            if state != ring_state:
                ring_state, reason = state, "ring-change"
            if not reason:
                continue
            next_sync = time.monotonic() + self.config.sync_interval
            log.debug("store-gateway sync: reason=%s", reason)
            try:
                await asyncio.to_thread(self.sync)
            except Exception:
                log.exception("store-gateway sync failed")

    # -- sync ------------------------------------------------------------------

    def tenants(self) -> list[str]:
        """Tenants with a bucket index in the bucket."""
        out = []
        for prefix in self.bucket.list_dir("").prefixes:
            tenant = prefix.rstrip("/")
            if tenant and tenant_bucket(self.bucket, tenant).exists(INDEX_COMPRESSED_FILENAME):
                out.append(tenant)
        return sorted(out)

    def sync(self) -> None:
        """Sync every tenant's blocks with its bucket index (and forget vanished tenants)."""
        m.SYNCS.inc()
        try:
            tenants = self.tenants()
        except Exception:
            m.SYNC_FAILURES.inc()
            raise
        failed = False
        for tenant in tenants:
            try:
                self.sync_tenant(tenant)
            except Exception as exc:  # one tenant's trouble must not block the others
                failed = True
                log.error("failed to sync tenant blocks: tenant=%s err=%s", tenant, exc)
        with self._lock:
            gone = [t for t in self._tenants if t not in tenants]
        for tenant in gone:
            self._drop_tenant(tenant)
        self._cleanup_sync_dir(set(tenants))
        if failed:
            m.SYNC_FAILURES.inc()
        else:
            m.LAST_SYNC.set(time.time())
        self._synced = True
        with self._lock:
            m.TENANTS_SYNCED.set(len(self._tenants))

    def _wanted(self, index: BucketIndex) -> dict[str, IndexBlock]:
        now = self.now()
        marks = index.deletion_marks()
        recent_ms = int((now - self.config.ignore_blocks_within) * 1000)
        out = {}
        for b in index.blocks:
            mark = marks.get(b.block_id)
            delay = self.config.ignore_deletion_mark_delay
            if mark is not None and now - mark.deletion_time > delay:
                continue
            if self.config.ignore_blocks_within > 0 and b.min_time > recent_ms:
                continue
            out[b.block_id] = b
        return out

    def sync_tenant(self, tenant: str) -> None:
        """Load new blocks of ``tenant`` and drop the ones no longer wanted."""
        try:
            index = read_bucket_index(self.bucket, tenant)
        except BucketIndexNotFoundError:
            self._drop_tenant(tenant)
            return
        except BucketIndexCorruptedError as exc:
            log.error("keeping previous blocks, bucket index unreadable: tenant=%s err=%s",
                      tenant, exc)
            raise
        wanted = self.dedup.filter(tenant_bucket(self.bucket, tenant), tenant,
                                   self._wanted(index), self.now())
        if self.sharding is not None:
            with self._lock:
                tb = self._tenants.get(tenant)
                loaded = set(tb.blocks) if tb else set()
            wanted = self.sharding.filter_blocks(tenant, wanted, loaded)
        tb_bucket = tenant_bucket(self.bucket, tenant)
        dropped: list[BucketBlock] = []
        with self._lock:
            tb = self._tenants.setdefault(tenant, _TenantBlocks())
            tb.index = index
            for block_id in list(tb.blocks):
                if block_id not in wanted:
                    dropped.append(tb.blocks.pop(block_id))
            for block_id, meta in wanted.items():
                if block_id not in tb.blocks:
                    tb.blocks[block_id] = BucketBlock(
                        tb_bucket,
                        meta,
                        self.sync_dir / tenant / block_id,
                        self.index_cache,
                        self.chunks_cache,
                        page_size=self.config.chunks_page_size_bytes,
                        max_gap_bytes=self.config.partitioner_max_gap_bytes,
                    )
                    log.debug("block added: tenant=%s block=%s", tenant, block_id)
            m.BLOCKS_LOADED.set(sum(len(t.blocks) for t in self._tenants.values()))
        for block in dropped:
            block.close(remove_local=True)
            m.BLOCK_DROPS.inc()
            log.info("dropped block: tenant=%s block=%s", tenant, block.id)
        # Local index files of blocks we no longer know (e.g. from before a restart).
        tenant_dir = self.sync_dir / tenant
        if tenant_dir.is_dir():
            for child in tenant_dir.iterdir():
                if child.is_dir() and is_block_id(child.name) and child.name not in wanted:
                    shutil.rmtree(child, ignore_errors=True)

    def _drop_tenant(self, tenant: str) -> None:
        with self._lock:
            tb = self._tenants.pop(tenant, None)
            m.BLOCKS_LOADED.set(sum(len(t.blocks) for t in self._tenants.values()))
        if tb is not None:
            for block in tb.blocks.values():
                block.close(remove_local=True)
                m.BLOCK_DROPS.inc()
        shutil.rmtree(self.sync_dir / tenant, ignore_errors=True)

    def _cleanup_sync_dir(self, tenants: set[str]) -> None:
        if not self.sync_dir.is_dir():
            return
        for child in self.sync_dir.iterdir():
            if child.is_dir() and child.name not in tenants:
                shutil.rmtree(child, ignore_errors=True)

    # -- queries ---------------------------------------------------------------

    def loaded_tenants(self) -> list[str]:
        with self._lock:
            return sorted(self._tenants)

    def blocks(self, tenant: str) -> list[BucketBlock]:
        with self._lock:
            tb = self._tenants.get(tenant)
            return list(tb.blocks.values()) if tb else []

    def querier(self, tenant: str, mint: int, maxt: int) -> BucketStoreQuerier:
        """A querier over ``tenant``'s blocks overlapping ``[mint, maxt]`` (ms, inclusive).

        A tenant not seen by the last sync gets its bucket index read now (at most
        once per ``_UNKNOWN_TENANT_RETRY`` seconds), so its first blocks need not
        wait for the next periodic sync. Blocking: call it from a worker thread.
        """
        self._sync_if_unknown(tenant)
        self._check_index_age(tenant)
        return BucketStoreQuerier(self.blocks(tenant), mint, maxt)

    def blocks_querier(
        self, tenant: str, mint: int, maxt: int, block_ids: Sequence[str]
    ) -> BucketStoreQuerier:
        """A querier over those of ``block_ids`` this gateway has loaded; its
        ``queried_blocks`` tells the caller which ones (ask another owner for the rest)."""
        self._sync_if_unknown(tenant)
        self._check_index_age(tenant)
        wanted = set(block_ids)
        return BucketStoreQuerier([b for b in self.blocks(tenant) if b.id in wanted], mint, maxt)

    def _check_index_age(self, tenant: str) -> None:
        """Refuse to answer from an index older than ``bucket_index.max_stale_period``."""
        with self._lock:
            tb = self._tenants.get(tenant)
            index = tb.index if tb is not None else None
        if index is not None:
            check_not_stale(index, now=self.now(),
                            max_stale_period=self.config.bucket_index.max_stale_period)

    def _sync_if_unknown(self, tenant: str) -> None:
        with self._lock:
            known = tenant in self._tenants
        if not known and not self._unknown_checked.get(tenant, False):
            self._unknown_checked.put(tenant, True)
            try:
                self.sync_tenant(tenant)
            except Exception as exc:
                log.warning("on-demand sync failed: tenant=%s err=%s", tenant, exc)
