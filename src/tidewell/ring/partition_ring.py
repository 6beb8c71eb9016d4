"""An immutable snapshot of the partition ring with fast token lookups.

Lookups follow dskit: the partition for a key is the one owning the first
token strictly greater than the key (wrapping), skipping non-ACTIVE partitions;
since only ACTIVE tokens matter, we keep a sorted array of just those and
``searchsorted`` a whole request's keys at once.
"""

from __future__ import annotations

import random
import threading
from typing import Protocol

import numpy as np
import numpy.typing as npt

from tidewell.model.errors import TidewellError
from tidewell.ring.kv import KV, KeyWatcher
from tidewell.ring.model import PartitionRingDesc, PartitionState

__all__ = [
    "PARTITION_RING_KEY",
    "NoActivePartitionError",
    "PartitionRing",
    "PartitionRingSource",
    "PartitionRingWatcher",
]

PARTITION_RING_KEY = "ingester-partitions"


class NoActivePartitionError(TidewellError):
    """No ACTIVE partition exists: writes cannot be placed anywhere (retry later)."""


def _fnv1_32(data: bytes) -> int:
    h = 2166136261
    for b in data:
        h = ((h * 16777619) & 0xFFFFFFFF) ^ b
    return h


class PartitionRing:
    """Read-only view of a ``PartitionRingDesc``; cheap to share between tasks."""

    def __init__(self, desc: PartitionRingDesc) -> None:
        self.desc = desc
        toks, pids = [], []
        for p in desc.partitions.values():
            if p.state is PartitionState.ACTIVE:
                toks.extend(p.tokens)
                pids.extend([p.id] * len(p.tokens))
        order = np.argsort(np.asarray(toks, dtype=np.uint32), kind="stable")
        self._tokens = np.asarray(toks, dtype=np.uint32)[order]
        self._pids = np.asarray(pids, dtype=np.int32)[order]
        self._shard_cache: dict[tuple[str, int], PartitionRing] = {}
        self._lock = threading.Lock()

    def partition_ring(self) -> PartitionRing:
        """Satisfies the "ring source" protocol the distributor takes."""
        return self

    @property
    def active_partition_ids(self) -> list[int]:
        return sorted(
            p.id for p in self.desc.partitions.values() if p.state is PartitionState.ACTIVE
        )

    def partition_ids(self, state: PartitionState | None = None) -> list[int]:
        return sorted(
            p.id for p in self.desc.partitions.values() if state is None or p.state is state
        )

    def active_partitions_for(self, keys: npt.NDArray[np.uint32]) -> npt.NDArray[np.int32]:
        """Vectorised ``active_partition_for`` over many keys."""
        if self._tokens.shape[0] == 0:
            raise NoActivePartitionError("no active partition found in the ring")
        idx = np.searchsorted(self._tokens, keys, side="right")
        idx[idx >= self._tokens.shape[0]] = 0
        return self._pids[idx]

    def active_partition_for(self, key: int) -> int:
        return int(self.active_partitions_for(np.asarray([key], dtype=np.uint32))[0])

    def shuffle_shard(self, tenant: str, size: int) -> PartitionRing:
        """A sub-ring of ``size`` ACTIVE partitions chosen stably for ``tenant``.

        Walks the ring from pseudo-random points seeded by the tenant, as dskit
        does, so adding or removing one partition changes at most one pick.
        ``size <= 0`` or ``size >=`` the number of partitions means all of them.
        """
        with self._lock:
            cached = self._shard_cache.get((tenant, size))
        if cached is not None:
            return cached
        all_ids = self.desc.partitions
        if size <= 0 or size >= len(all_ids):
            size = len(all_ids)
        toks = sorted(
            (t, p.id) for p in all_ids.values() for t in p.tokens
        )
        tok_arr = np.asarray([t for t, _ in toks], dtype=np.uint64)
        rnd = random.Random(_fnv1_32(tenant.encode()))
        chosen: set[int] = set()
        excluded: set[int] = set()
        n = len(toks)
        while len(chosen) + len(excluded) < len(all_ids) and len(chosen) < size:
            start = int(np.searchsorted(tok_arr, rnd.getrandbits(32), side="right")) % max(n, 1)
            for k in range(n):
                pid = toks[(start + k) % n][1]
                if pid in chosen or pid in excluded:
                    continue
                if all_ids[pid].state is not PartitionState.ACTIVE:
                    excluded.add(pid)
                    continue
                chosen.add(pid)
                break
            else:
                break
        sub = PartitionRingDesc(partitions={pid: all_ids[pid] for pid in chosen})
        ring = PartitionRing(sub)
        with self._lock:
            self._shard_cache[(tenant, size)] = ring
        return ring


class PartitionRingSource(Protocol):
    """Anything that hands out the current partition ring."""

    def partition_ring(self) -> PartitionRing: ...


class PartitionRingWatcher(KeyWatcher[PartitionRing]):
    """Keeps the latest ``PartitionRing`` built from the KV, updated on every change."""

    def __init__(self, kv: KV, key: str = PARTITION_RING_KEY) -> None:
        super().__init__(kv, key, lambda value: PartitionRing(value or PartitionRingDesc()))

    def partition_ring(self) -> PartitionRing:
        return self.current()
