"""The per-tenant bucket index: ``<tenant>/bucket-index.json.gz``, in Mimir's format.

Store-gateways and queriers read this one small object instead of listing the
bucket to learn which blocks exist and which are marked for deletion. Whoever
owns the tenant's blocks (the compactor, or the ingester until there is one)
refreshes it with :func:`update_bucket_index`.

Format (gzip of compact JSON, the gzip member named ``bucket-index.json``)::

    {"version": 2,
     "blocks": [{"block_id": ULID, "min_time": ms, "max_time": ms,
                 "segments_format": "1b6d", "segments_num": n,      (omitted if unknown)
                 "uploaded_at": s, "compactor_shard_id": "1_of_4",  (omitted if empty)
                 "source": "ingester", "compaction_level": 1,       (omitted if empty)
                 "out_of_order": true, "labels": {...}}],           (omitted if empty)
     "block_deletion_marks": [{"block_id": ULID, "deletion_time": s}],
     "updated_at": s}

We write version 2, as current Mimir does (version 2 only added
``compactor_shard_id``); we read 1 and 2. A block is in the index only once its
``meta.json`` exists, because uploaders write ``meta.json`` last. Block
``meta.json`` files are parsed here with ``json`` on purpose, so this module does
not depend on the block writer.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import re
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tidewell.model.errors import TidewellError
from tidewell.objstore import Bucket, ObjectNotFoundError, tenant_bucket
from tidewell.util.config_fields import format_duration

__all__ = [
    "DELETION_MARK_FILENAME",
    "INDEX_COMPRESSED_FILENAME",
    "INDEX_FILENAME",
    "INDEX_VERSION",
    "MARKERS_DIR",
    "META_FILENAME",
    "BlockDeletionMark",
    "BucketIndex",
    "BucketIndexCorruptedError",
    "BucketIndexNotFoundError",
    "BucketIndexTooOldError",
    "IndexBlock",
    "build_bucket_index",
    "check_not_stale",
    "delete_bucket_index",
    "deletion_mark_key",
    "read_bucket_index",
    "update_bucket_index",
    "write_bucket_index",
]

log = logging.getLogger("tidewell.objstore.bucketindex")

INDEX_FILENAME = "bucket-index.json"
INDEX_COMPRESSED_FILENAME = INDEX_FILENAME + ".gz"
INDEX_VERSION = 2
MARKERS_DIR = "markers"
META_FILENAME = "meta.json"
DELETION_MARK_FILENAME = "deletion-mark.json"
SEGMENTS_FORMAT_1B6D = "1b6d"  # chunks/000001, 000002, … numbered from 1 with 6 digits
COMPACTOR_SHARD_ID_LABEL = "__compactor_shard_id__"
_OUT_OF_ORDER_HINT = "from-out-of-order"

_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$")
_FETCH_THREADS = 16


class BucketIndexNotFoundError(TidewellError, LookupError):
    """The tenant has no bucket index (yet)."""


class BucketIndexCorruptedError(TidewellError, ValueError):
    """The bucket index exists but is not valid gzip-compressed JSON of the right shape."""


class BucketIndexTooOldError(TidewellError):
    """The index was last written longer ago than the max stale period: its writer (the
    compactor's cleaner) is not running, so the blocks it lists may be long gone."""

    def __init__(self, updated_at: int, max_stale_period: float) -> None:
        when = datetime.fromtimestamp(updated_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        super().__init__(
            f"the bucket index is too old. It was last updated at {when}, which exceeds the "
            f"maximum allowed staleness period of {format_duration(max_stale_period)} "
            "(err-mimir-bucket-index-too-old)")


def check_not_stale(index: BucketIndex, *, now: float, max_stale_period: float) -> None:
    """Raise ``BucketIndexTooOldError`` when ``index`` is older than ``max_stale_period``
    seconds (0 disables the check), as Mimir's queriers and store-gateways refuse it."""
    if max_stale_period > 0 and now - index.updated_at > max_stale_period:
        raise BucketIndexTooOldError(index.updated_at, max_stale_period)


def is_block_id(name: str) -> bool:
    return _ULID.match(name) is not None


def deletion_mark_key(block_id: str) -> str:
    """Where a block's deletion mark lives in the tenant's global markers directory."""
    return f"{MARKERS_DIR}/{block_id}-{DELETION_MARK_FILENAME}"


@dataclass(frozen=True, slots=True)
class IndexBlock:
    """What the index knows about one complete block (times in ms, ``[min, max)``)."""

    block_id: str
    min_time: int
    max_time: int
    uploaded_at: int = 0
    segments_format: str = ""
    segments_num: int = 0
    compactor_shard_id: str = ""
    source: str = ""
    compaction_level: int = 0
    out_of_order: bool = False
    labels: dict[str, str] = field(default_factory=dict)

    def within(self, mint: int, maxt: int) -> bool:
        """Whether the block may hold samples in the inclusive query range ``[mint, maxt]``."""
        return self.min_time <= maxt and mint < self.max_time

    def segment_files(self) -> list[str]:
        """``chunks/`` file names when the index knows them (format ``1b6d``)."""
        if self.segments_format != SEGMENTS_FORMAT_1B6D:
            return []
        return [f"{i:06d}" for i in range(1, self.segments_num + 1)]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "block_id": self.block_id,
            "min_time": self.min_time,
            "max_time": self.max_time,
        }
        if self.segments_format:
            d["segments_format"] = self.segments_format
        if self.segments_num:
            d["segments_num"] = self.segments_num
        d["uploaded_at"] = self.uploaded_at
        if self.compactor_shard_id:
            d["compactor_shard_id"] = self.compactor_shard_id
        if self.source:
            d["source"] = self.source
        if self.compaction_level:
            d["compaction_level"] = self.compaction_level
        if self.out_of_order:
            d["out_of_order"] = True
        if self.labels:
            d["labels"] = dict(sorted(self.labels.items()))
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> IndexBlock:
        return cls(
            block_id=str(d["block_id"]),
            min_time=int(d["min_time"]),
            max_time=int(d["max_time"]),
            uploaded_at=int(d.get("uploaded_at") or 0),
            segments_format=str(d.get("segments_format") or ""),
            segments_num=int(d.get("segments_num") or 0),
            compactor_shard_id=str(d.get("compactor_shard_id") or ""),
            source=str(d.get("source") or ""),
            compaction_level=int(d.get("compaction_level") or 0),
            out_of_order=bool(d.get("out_of_order") or False),
            labels={str(k): str(v) for k, v in (d.get("labels") or {}).items()},
        )

    @classmethod
    def from_meta(cls, meta: dict[str, Any], uploaded_at: int) -> IndexBlock:
        """The index entry for a block's ``meta.json`` (Prometheus or Thanos/Mimir flavour)."""
        thanos = meta.get("thanos") or {}
        labels = {str(k): str(v) for k, v in (thanos.get("labels") or {}).items()}
        compaction = meta.get("compaction") or {}
        seg_format, seg_num = _segments_format(thanos)
        return cls(
            block_id=str(meta["ulid"]),
            min_time=int(meta["minTime"]),
            max_time=int(meta["maxTime"]),
            uploaded_at=uploaded_at,
            segments_format=seg_format,
            segments_num=seg_num,
            compactor_shard_id=labels.get(COMPACTOR_SHARD_ID_LABEL, ""),
            source=str(thanos.get("source") or ""),
            compaction_level=int(compaction.get("level") or 0),
            out_of_order=_OUT_OF_ORDER_HINT in (compaction.get("hints") or []),
            labels=labels,
        )


def _segments_format(thanos: dict[str, Any]) -> tuple[str, int]:
    """``("1b6d", n)`` when the chunk segments are exactly 000001…n, else ``("", 0)``."""
    seg_files = thanos.get("segment_files") or []
    if seg_files:
        if all(f == f"{i:06d}" for i, f in enumerate(seg_files, 1)):
            return SEGMENTS_FORMAT_1B6D, len(seg_files)
        return "", 0
    chunks = [f.get("rel_path", "") for f in thanos.get("files") or []]
    chunks = [p for p in chunks if p.startswith("chunks/")]
    if chunks and all(p == f"chunks/{i:06d}" for i, p in enumerate(chunks, 1)):
        return SEGMENTS_FORMAT_1B6D, len(chunks)
    return "", 0


@dataclass(frozen=True, slots=True)
class BlockDeletionMark:
    block_id: str
    deletion_time: int  # unix seconds

    def to_dict(self) -> dict[str, Any]:
        return {"block_id": self.block_id, "deletion_time": self.deletion_time}


@dataclass
class BucketIndex:
    """All complete blocks of one tenant and their deletion marks."""

    blocks: list[IndexBlock] = field(default_factory=list)
    block_deletion_marks: list[BlockDeletionMark] = field(default_factory=list)
    updated_at: int = 0
    version: int = INDEX_VERSION

    def deletion_marks(self) -> dict[str, BlockDeletionMark]:
        return {m.block_id: m for m in self.block_deletion_marks}

    def blocks_within(self, mint: int, maxt: int) -> list[IndexBlock]:
        """Blocks that may hold samples in ``[mint, maxt]`` (ms, inclusive), by min time."""
        return sorted(
            (b for b in self.blocks if b.within(mint, maxt)),
            key=lambda b: (b.min_time, b.block_id),
        )

    def to_json(self) -> bytes:
        doc = {
            "version": self.version,
            "blocks": [b.to_dict() for b in self.blocks],
            "block_deletion_marks": [m.to_dict() for m in self.block_deletion_marks],
            "updated_at": self.updated_at,
        }
        return json.dumps(doc, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> BucketIndex:
        try:
            doc = json.loads(data)
            return cls(
                version=int(doc["version"]),
                # Go writes a nil list as null.
                blocks=[IndexBlock.from_dict(b) for b in doc.get("blocks") or []],
                block_deletion_marks=[
                    BlockDeletionMark(str(m["block_id"]), int(m["deletion_time"]))
                    for m in doc.get("block_deletion_marks") or []
                ],
                updated_at=int(doc.get("updated_at") or 0),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BucketIndexCorruptedError(f"bucket index is not valid: {exc}") from None


# -- storage ---------------------------------------------------------------------------


def read_bucket_index(bucket: Bucket, tenant: str) -> BucketIndex:
    """The tenant's index. Raises ``BucketIndexNotFoundError`` / ``BucketIndexCorruptedError``."""
    try:
        raw = tenant_bucket(bucket, tenant).get(INDEX_COMPRESSED_FILENAME)
    except ObjectNotFoundError:
        raise BucketIndexNotFoundError(f"bucket index of tenant {tenant!r} not found") from None
    try:
        data = gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise BucketIndexCorruptedError(
            f"bucket index of tenant {tenant!r} is not valid gzip: {exc}"
        ) from None
    try:
        return BucketIndex.from_json(data)
    except BucketIndexCorruptedError as exc:
        raise BucketIndexCorruptedError(f"tenant {tenant!r}: {exc}") from None


def write_bucket_index(bucket: Bucket, tenant: str, index: BucketIndex) -> None:
    buf = io.BytesIO()
    with gzip.GzipFile(filename=INDEX_FILENAME, mode="wb", fileobj=buf, mtime=0) as gz:
        gz.write(index.to_json())
    tenant_bucket(bucket, tenant).put(INDEX_COMPRESSED_FILENAME, buf.getvalue())


def delete_bucket_index(bucket: Bucket, tenant: str) -> None:
    tenant_bucket(bucket, tenant).delete(INDEX_COMPRESSED_FILENAME)


# -- building --------------------------------------------------------------------------


def _read_json(bucket: Bucket, key: str) -> dict[str, Any] | None:
    """The object as a JSON object, ``None`` if it vanished; raises ValueError if corrupt."""
    try:
        raw = bucket.get(key)
    except ObjectNotFoundError:
        return None
    doc = json.loads(raw)
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    return doc


def _load_block(bucket: Bucket, block_id: str, uploaded_at: int) -> IndexBlock | str:
    """The index entry of a new block, or why it is left out."""
    try:
        meta = _read_json(bucket, f"{block_id}/{META_FILENAME}")
        if meta is None:
            return "meta.json not found (partial block)"
        if int(meta.get("version", 0)) != 1:
            return f"unsupported meta.json version {meta.get('version')!r}"
        block = IndexBlock.from_meta(meta, uploaded_at)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"corrupted meta.json: {exc}"
    if block.block_id.upper() != block_id.upper():
        return f"meta.json names block {block.block_id}, not {block_id}"
    return block


def _load_mark(bucket: Bucket, block_id: str, keys: Iterable[str]) -> BlockDeletionMark | None:
    for key in keys:
        try:
            doc = _read_json(bucket, key)
            if doc is None:
                continue
            return BlockDeletionMark(block_id, int(doc["deletion_time"]))
        except (ValueError, KeyError, TypeError) as exc:
            log.error("skipped corrupted block deletion mark: block=%s key=%s err=%s",
                      block_id, key, exc)
    return None


def build_bucket_index(
    bucket: Bucket,
    tenant: str,
    old: BucketIndex | None = None,
    *,
    now: float | None = None,
) -> tuple[BucketIndex, dict[str, str]]:
    """A fresh index of the tenant's blocks, and the blocks left out with the reason.

    Entries of ``old`` are reused for blocks and marks still present (both are
    immutable), so only new blocks' ``meta.json`` are read. Deletion marks are
    listed *before* blocks, as Mimir does: a block deleted meanwhile can then at
    worst appear with its mark, never without it.
    """
    tb = tenant_bucket(bucket, tenant)

    # 1. Deletion marks in the global location, then the whole tenant (blocks and
    #    marks kept inside block directories).
    global_marks = {}
    for info in tb.iter_prefix(MARKERS_DIR):
        name = info.key.rsplit("/", 1)[-1]
        block_id, sep, rest = name.partition("-")
        if sep and rest == DELETION_MARK_FILENAME and is_block_id(block_id):
            global_marks[block_id] = info.key
    metas: dict[str, int] = {}
    seen_blocks: set[str] = set()
    local_marks: dict[str, str] = {}
    for info in tb.iter_prefix(""):
        first, _, rest = info.key.partition("/")
        if not rest or not is_block_id(first):
            continue
        seen_blocks.add(first)
        if rest == META_FILENAME:
            metas[first] = int(info.last_modified)
        elif rest == DELETION_MARK_FILENAME:
            local_marks[first] = info.key

    # 2. Blocks: reuse old entries, read meta.json of new ones (in parallel).
    partials: dict[str, str] = {
        b: "meta.json not found (partial block)" for b in seen_blocks - metas.keys()
    }
    reused = {b.block_id: b for b in (old.blocks if old else []) if b.block_id in metas}
    new_ids = sorted(metas.keys() - reused.keys())
    blocks = list(reused.values())
    if new_ids:
        with ThreadPoolExecutor(min(_FETCH_THREADS, len(new_ids))) as pool:
            loaded = pool.map(lambda b: _load_block(tb, b, metas[b]), new_ids)
            for block_id, got in zip(new_ids, loaded, strict=True):
                if isinstance(got, IndexBlock):
                    blocks.append(got)
                else:
                    partials[block_id] = got
    for block_id, why in sorted(partials.items()):
        level = logging.WARNING if "partial" in why else logging.ERROR
        log.log(level, "block left out of bucket index: tenant=%s block=%s reason=%s",
                tenant, block_id, why)
    blocks.sort(key=lambda b: (b.min_time, b.block_id))

    # 3. Deletion marks: reuse old entries, read new ones (global location first).
    mark_ids = global_marks.keys() | local_marks.keys()
    old_marks = old.deletion_marks() if old else {}
    marks = [old_marks[i] for i in mark_ids if i in old_marks]
    for block_id in sorted(mark_ids - old_marks.keys()):
        keys = [k for k in (global_marks.get(block_id), local_marks.get(block_id)) if k]
        mark = _load_mark(tb, block_id, keys)
        if mark is not None:
            marks.append(mark)
    marks.sort(key=lambda m: m.block_id)

    updated = int(time.time() if now is None else now)
    return BucketIndex(blocks=blocks, block_deletion_marks=marks, updated_at=updated), partials


def update_bucket_index(bucket: Bucket, tenant: str, *, now: float | None = None) -> BucketIndex:
    """Rebuild the tenant's index (reusing the stored one where it can) and store it."""
    try:
        old: BucketIndex | None = read_bucket_index(bucket, tenant)
    except BucketIndexNotFoundError:
        old = None
    except BucketIndexCorruptedError as exc:
        log.warning("rebuilding corrupted bucket index from scratch: tenant=%s err=%s",
                    tenant, exc)
        old = None
    if old is not None and old.version != INDEX_VERSION:
        old = None  # version 1 lacks compactor_shard_id: re-read every meta.json
    index, _ = build_bucket_index(bucket, tenant, old, now=now)
    write_bucket_index(bucket, tenant, index)
    return index
