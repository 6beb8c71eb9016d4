"""Which blocks another block makes redundant: the deduplicate filter over the
``compaction.sources`` of ``meta.json`` (Thanos's and Mimir's ``DeduplicateFilter``).

A compacted block lists in its ``meta.json`` the first-level blocks it was made
from. A block whose sources all lie inside another block of the same compactor
shard holds no sample that block lacks: it is the other block's predecessor
(or a leftover of a compaction that died before marking its sources). The
compactor marks such blocks for deletion; store-gateways stop serving them and
queriers stop asking for them, so no block is read together with its successor.

The bucket index carries no sources, so readers fetch ``meta.json`` once per
block (blocks are immutable): :class:`BlockSourcesCache`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from tidewell.objstore import Bucket, BucketError
from tidewell.objstore.bucketindex import COMPACTOR_SHARD_ID_LABEL, META_FILENAME

__all__ = ["BlockSources", "BlockSourcesCache", "SourcedBlock", "find_successors",
           "sources_from_meta"]

_FETCH_THREADS = 16


class SourcedBlock(Protocol):
    @property
    def block_id(self) -> str: ...
    @property
    def sources(self) -> frozenset[str]: ...
    @property
    def shard_id(self) -> str: ...
    @property
    def level(self) -> int: ...


B = TypeVar("B", bound=SourcedBlock)


@dataclass(frozen=True, slots=True)
class BlockSources:
    """What the deduplicate filter needs of a block's ``meta.json``."""

    block_id: str
    sources: frozenset[str]
    shard_id: str = ""
    level: int = 1


def sources_from_meta(meta: dict[str, Any]) -> BlockSources:
    """The filter's view of a parsed ``meta.json`` (a block without sources is its own)."""
    comp = meta.get("compaction") or {}
    labels = (meta.get("thanos") or {}).get("labels") or {}
    block_id = str(meta["ulid"])
    return BlockSources(
        block_id=block_id,
        sources=frozenset(str(s) for s in comp.get("sources") or [block_id]),
        shard_id=str(labels.get(COMPACTOR_SHARD_ID_LABEL, "")),
        level=int(comp.get("level") or 1),
    )


def find_successors(blocks: Sequence[B]) -> dict[str, B]:
    """Redundant block ID → a block of the same shard holding all its sources.

    Blocks of different shards never cover each other: the split stage writes one
    block per shard from the same sources, and a source is only covered once every
    shard's block exists. Of blocks with equal sources the one of lowest ID stays.
    """
    order = sorted(blocks, key=lambda b: (-len(b.sources), -b.level, b.block_id))
    # Kept blocks by each of their sources: a block's candidates are the kept blocks that
    # hold one of its sources (any one will do), so the search is linear in sources.
    by_source: dict[tuple[str, str], list[B]] = {}
    out: dict[str, B] = {}
    for b in order:
        srcs = b.sources or frozenset({b.block_id})
        probe = (b.shard_id, min(srcs))
        succ = next((k for k in by_source.get(probe, ())
                     if srcs <= (k.sources or frozenset({k.block_id}))), None)
        if succ is not None:
            out[b.block_id] = succ
            continue
        for src in srcs:
            by_source.setdefault((b.shard_id, src), []).append(b)
    return out


class BlockSourcesCache:
    """``meta.json`` sources of a tenant's blocks, each block's read once."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], BlockSources] = {}
        self._lock = threading.Lock()

    def get(self, tb: Bucket, tenant: str, block_ids: Iterable[str]) -> list[BlockSources]:
        """Sources of the blocks of tenant bucket ``tb``; a block whose ``meta.json`` cannot
        be read counts as its own only source (it then replaces nothing, and is read again
        next time)."""
        ids = list(block_ids)
        with self._lock:
            have = {b: self._known.get((tenant, b)) for b in ids}
        missing = [b for b, s in have.items() if s is None]
        if missing:
            with ThreadPoolExecutor(min(_FETCH_THREADS, len(missing))) as pool:
                for block_id, got in zip(missing, pool.map(lambda b: _read(tb, b), missing),
                                         strict=True):
                    have[block_id] = got or BlockSources(block_id, frozenset({block_id}))
                    if got is not None:
                        with self._lock:
                            self._known[(tenant, block_id)] = got
        return [s for s in have.values() if s is not None]

    def forget(self, tenant: str, keep: Iterable[str]) -> None:
        """Drop cached entries of ``tenant`` other than ``keep`` (deleted blocks)."""
        kept = set(keep)
        with self._lock:
            for key in [k for k in self._known if k[0] == tenant and k[1] not in kept]:
                del self._known[key]


def _read(tb: Bucket, block_id: str) -> BlockSources | None:
    try:
        meta = json.loads(tb.get(f"{block_id}/{META_FILENAME}"))
        got = sources_from_meta(meta)
    except (BucketError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return got if got.block_id == block_id else None
