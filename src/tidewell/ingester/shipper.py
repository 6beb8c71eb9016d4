"""The shipper: uploads a tenant's new local blocks to ``<tenant>/<ULID>/`` in the bucket.

Per block, chunk segments and the index go first and ``meta.json`` last, so a
reader that lists the bucket (or the bucket index, built from ``meta.json``
files) only ever sees complete blocks. Each upload is retried with backoff;
a block still failing is counted and retried at the next sync.

What was shipped is remembered in ``<tenant dir>/mimir.shipper.json``
(Mimir's file: ``{"version": 1, "shipped": {ULID: ms}}``; Thanos's older
``thanos.shipper.json`` ``{"version": 1, "uploaded": [ULIDs]}`` is read too).
A block missing from that file whose ``meta.json`` is already in the bucket (a
crash right after its upload) is taken as shipped, not uploaded again.

The compactor's blocks cleaner is the only writer of the tenant's bucket
index. In a process that runs one (``-target=all``), ``index_writer`` is the
cleaner itself, called after uploads so new blocks show up at once; an
ingester-only process (``index_writer`` None) never writes the index: its blocks
appear at the compactor's next cleanup (``-compactor.cleanup-interval``), and
queriers meanwhile ask the ingesters, as Mimir's do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from tidewell.ingester import metrics as m
from tidewell.ingester.head_cutting import local_blocks
from tidewell.ingester.user_tsdb import TenantTSDB
from tidewell.objstore import Bucket, tenant_bucket
from tidewell.objstore.bucket import join_key
from tidewell.tsdb.block.files import block_files

__all__ = [
    "SHIPPER_FILENAME", "Shipper", "apply_retention", "read_shipped", "write_shipped"]

log = logging.getLogger("tidewell.ingester")

SHIPPER_FILENAME = "mimir.shipper.json"
THANOS_SHIPPER_FILENAME = "thanos.shipper.json"


def read_shipped(tenant_dir: str | os.PathLike[str]) -> dict[str, int]:
    """ULID → shipped time (ms) of the tenant's shipped blocks; empty if never shipped."""
    d = Path(tenant_dir)
    try:
        doc = json.loads((d / SHIPPER_FILENAME).read_text())
        if doc.get("version") == 1:
            return {str(k): int(v) for k, v in (doc.get("shipped") or {}).items()}
    except (OSError, ValueError, TypeError, AttributeError):
        pass
    try:
        doc = json.loads((d / THANOS_SHIPPER_FILENAME).read_text())
        if doc.get("version") == 1:
            now = int(time.time() * 1000)
            return {str(u): now for u in doc.get("uploaded") or []}
    except (OSError, ValueError, TypeError, AttributeError):
        pass
    return {}


def write_shipped(tenant_dir: str | os.PathLike[str], shipped: dict[str, int]) -> None:
    path = Path(tenant_dir) / SHIPPER_FILENAME
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump({"version": 1, "shipped": dict(sorted(shipped.items()))}, f, indent="\t")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Shipper:
    """Uploads new local blocks of every tenant under ``tsdb_dir``; call ``sync`` periodically."""

    def __init__(
        self,
        bucket: Bucket,
        tsdb_dir: str | os.PathLike[str],
        *,
        concurrency: int = 10,
        attempts: int = 3,
        backoff: float = 0.1,
        max_backoff: float = 5.0,
        index_writer: Callable[[str], object] | None = None,
    ) -> None:
        self.bucket = bucket
        self.dir = Path(tsdb_dir)
        self.concurrency = max(1, concurrency)
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.index_writer = index_writer
        """The blocks cleaner of an in-process compactor; None: the index is not ours."""
        self._index_stale: set[str] = set()

    def tenant_dir(self, tenant: str) -> Path:
        return self.dir / tenant

    async def sync(self, tenants: list[str]) -> int:
        """Ship every tenant's unshipped blocks; return how many were uploaded."""
        sem = asyncio.Semaphore(self.concurrency)

        async def one(tenant: str) -> int:
            async with sem:
                return await self.sync_tenant(tenant)

        return sum(await asyncio.gather(*(one(t) for t in tenants)))

    async def sync_tenant(self, tenant: str) -> int:
        tdir = self.tenant_dir(tenant)
        blocks = local_blocks(tdir)
        if not blocks:
            return 0
        shipped = read_shipped(tdir)
        local = {b.name for b in blocks}
        known = {u: t for u, t in shipped.items() if u in local}
        tb = tenant_bucket(self.bucket, tenant)
        uploaded = 0
        metas = []
        for b in blocks:
            if b.name in known:
                continue
            try:
                meta = json.loads((b / "meta.json").read_text())
            except (OSError, ValueError) as exc:
                log.error("cannot read local block meta.json, not shipping it",
                          extra={"fields": {"user": tenant, "block": b.name, "err": str(exc)}})
                continue
            stats = meta.get("stats") or {}
            if int(stats.get("numSamples", 0)) == 0:
                continue  # as Mimir: empty blocks are not shipped
            if int((meta.get("compaction") or {}).get("level", 1)) > 1:
                continue
            metas.append((int(meta.get("minTime", 0)), b, meta))
        metas.sort(key=lambda x: x[0])
        for _, b, meta in metas:
            try:
                if await asyncio.to_thread(tb.exists, join_key(b.name, "meta.json")):
                    known[b.name] = int(time.time() * 1000)
                    self._index_stale.add(tenant)
                    continue
                await self._upload_with_retries(tb, b)
            except Exception as exc:
                m.SHIPPER_UPLOAD_FAILURES.inc()
                log.error("shipping block failed, retrying at the next sync",
                          extra={"fields": {"user": tenant, "block": b.name, "err": str(exc)}})
                continue
            known[b.name] = int(time.time() * 1000)
            uploaded += 1
            self._index_stale.add(tenant)
            m.SHIPPER_UPLOADS.inc()
            m.SHIPPER_LAST_SUCCESSFUL_UPLOAD.set_to_current_time()
            stats = meta.get("stats") or {}
            log.info(
                "uploaded block",
                extra={"fields": {"user": tenant, "block": b.name,
                                  "minTime": meta.get("minTime"), "maxTime": meta.get("maxTime"),
                                  "series": stats.get("numSeries", 0),
                                  "samples": stats.get("numSamples", 0)}},
            )
        if known != shipped:
            await asyncio.to_thread(write_shipped, tdir, known)
        if tenant in self._index_stale:
            await self._update_index(tenant)
        return uploaded

    async def _upload_with_retries(self, tb: Bucket, block: Path) -> None:
        delay = self.backoff
        for attempt in range(self.attempts):
            try:
                await asyncio.to_thread(self._upload, tb, block)
                return
            except Exception as exc:
                if attempt == self.attempts - 1:
                    raise
                log.warning("block upload failed, retrying",
                            extra={"fields": {"block": block.name, "attempt": attempt + 1,
                                              "err": str(exc)}})
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff)

    @staticmethod
    def _upload(tb: Bucket, block: Path) -> None:
        for rel in block_files(block):
            tb.upload_file(join_key(block.name, rel), block / rel)

    async def _update_index(self, tenant: str) -> None:
        if self.index_writer is None:
            self._index_stale.discard(tenant)
            return
        try:
            await asyncio.to_thread(self.index_writer, tenant)
        except Exception as exc:
            log.warning("bucket index update failed, retrying at the next sync",
                        extra={"fields": {"user": tenant, "err": str(exc)}})
            return
        self._index_stale.discard(tenant)

    def shipped(self, tenant: str) -> set[str]:
        return set(read_shipped(self.tenant_dir(tenant)))


async def apply_retention(tenants: Iterable[TenantTSDB],
                          tenant_dir: Callable[[str], str | os.PathLike[str]],
                          shipper: Shipper | None, retention_ms: int) -> int:
    """Delete local blocks older than the retention period, but only shipped ones.

    As Prometheus's retention, age is measured in data time: a block goes
    once the newest local block ends ``retention_ms`` after it. Without
    a shipper nothing ships, and blocks go by age alone. Returns blocks deleted.
    """
    deleted = 0
    for t in tenants:
        blocks = t.blocks
        if not blocks:
            continue
        newest = max(b.meta.max_time for b in blocks)
        shipped = shipper.shipped(t.tenant) if shipper is not None else None
        old = {
            b.meta.ulid for b in blocks
            if newest - b.meta.max_time >= retention_ms
            and (shipped is None or b.meta.ulid in shipped)
        }
        if not old:
            continue
        t.remove_blocks(old)
        for ulid in sorted(old):
            path = os.path.join(tenant_dir(t.tenant), ulid)
            await asyncio.to_thread(_remove_block, path)
            deleted += 1
            m.LOCAL_BLOCKS_DELETED.inc()
            log.info("deleted local block after retention",
                     extra={"fields": {"user": t.tenant, "block": ulid}})
    return deleted


def _remove_block(path: str) -> None:
    """Delete a block directory: meta.json first, so a crash never leaves a half block."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(path, "meta.json"))
    shutil.rmtree(path, ignore_errors=True)
