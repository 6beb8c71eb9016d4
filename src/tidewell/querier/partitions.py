"""The querier's view of ingesters in a cluster: one replica set per partition.

Every partition a tenant writes to is owned by one ingester per zone
(``ingester-zone-a-3`` and ``ingester-zone-b-3`` both own partition 3). For a
query the querier asks one healthy owner of each partition and falls back to
the other zone (``ReplicaSetQueryable``), then merges the partitions' answers.
Owners are found in the partition ring; their addresses in the ingester
instance ring, so a dead ingester (no heartbeat) stops receiving queries.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import TypeVar

from tidewell.model import Querier
from tidewell.querier.merge import MergeQuerier
from tidewell.querier.remote import (
    RemoteClients,
    RemoteQueryable,
    RemoteQueryError,
    RemoteQueryTimeoutError,
)
from tidewell.querier.replicas import NoReplicaError, ReplicaSetQueryable
from tidewell.ring.instance_ring import InstanceRingSource, InstanceState
from tidewell.ring.model import PartitionState
from tidewell.ring.partition_ring import PartitionRingSource
from tidewell.util.executors import shared_executor

T = TypeVar("T")
_POOL_THREADS = 16

# Partitions that may hold data: ACTIVE ones and INACTIVE ones being scaled in.
_READABLE = (PartitionState.ACTIVE, PartitionState.INACTIVE)


class PartitionsQueryable:
    """``Queryable`` over the ingesters owning the partitions of a tenant."""

    def __init__(
        self,
        partitions: PartitionRingSource,
        instances: InstanceRingSource,
        *,
        shard_size: Callable[[str], int] = lambda tenant: 0,
        timeout_s: float = 30.0,
    ) -> None:
        self._partitions = partitions
        self._instances = instances
        self._shard_size = shard_size
        self._timeout_s = timeout_s
        self._sets: dict[int, ReplicaSetQueryable] = {}
        self._waiters = RemoteClients(RemoteQueryable)
        self._lock = threading.Lock()

    def partition_ids(self, tenant: str) -> list[int]:
        ring = self._partitions.partition_ring()
        size = self._shard_size(tenant)
        if size > 0:
            ring = ring.shuffle_shard(tenant, size)
        return [
            p.id for p in ring.desc.partitions.values() if p.state in _READABLE
        ]

    def owner_urls(self, partition: int) -> list[str]:
        """Healthy owners' base URLs, in no particular order."""
        owners = self._partitions.partition_ring().desc.owners_of(partition)
        ring = self._instances.instance_ring()
        healthy = {
            inst.id: inst
            for inst in ring.healthy_instances()
            if inst.state is InstanceState.ACTIVE
        }
        return [f"http://{healthy[o].addr}" for o in sorted(owners) if o in healthy]

    def replica_set(self, partition: int) -> ReplicaSetQueryable:
        with self._lock:
            rs = self._sets.get(partition)
            if rs is None:
                rs = ReplicaSetQueryable(
                    lambda p=partition: self.owner_urls(p), timeout_s=self._timeout_s
                )
                self._sets[partition] = rs
            return rs

    def ask_every_owner(self, tenant: str, fn: Callable[[RemoteQueryable], T]) -> list[list[T]]:
        """``fn`` on every healthy owner of every partition of ``tenant`` (both zones), at
        once; the answers grouped by partition. A partition fails the call only when
        none of its owners answered; a 4xx answer fails it at once."""
        pool = shared_executor("querier-meta", _POOL_THREADS)
        calls: list[tuple[int, list[tuple[str, Future[T]]]]] = []
        for p in self.partition_ids(tenant):
            rs = self.replica_set(p)
            calls.append((p, [(url, pool.submit(fn, rs.client(url)))
                              for url in self.owner_urls(p)]))
        groups: list[list[T]] = []
        for p, owners in calls:
            rs = self.replica_set(p)
            answers: list[T] = []
            last: RemoteQueryError | None = None
            for url, fut in owners:
                try:
                    answers.append(fut.result())
                except RemoteQueryError as exc:
                    if exc.is_client:
                        raise
                    rs.mark(url, ok=False)
                    last = exc
                    continue
                rs.mark(url, ok=True)
            if not answers:
                where = ",".join(url for url, _ in owners) or f"partition {p}"
                raise NoReplicaError(where, last if last is not None
                                     else "no healthy ingester owns the partition")
            groups.append(answers)
        return groups

    def _waiter(self, url: str) -> RemoteQueryable:
        return self._waiters.get(url)

    def querier(self, tenant: str, mint: int, maxt: int) -> Querier:
        return MergeQuerier(
            [self.replica_set(p).querier(tenant, mint, maxt) for p in self.partition_ids(tenant)],
            disjoint=True,  # a series is written to one partition (a samples hint adds up)
        )

    async def wait_caught_up(
        self, tenant: str, end_offset: Callable[[int], Awaitable[int]], timeout_s: float
    ) -> None:
        """Strong read consistency: every owner of the tenant's partitions consumed up to
        the partition's end offset as it was when this call started."""

        async def one(partition: int) -> None:
            end = await end_offset(partition)
            urls = self.owner_urls(partition)
            results = await asyncio.gather(
                *(self._waiter(url).wait_for_offset(end, timeout_s) for url in urls),
                return_exceptions=True,
            )
            errors = [r for r in results if isinstance(r, BaseException)]
            # An owner that is down or restarting (unreachable, 503) is skipped by
            # the replica set too; one that is up but lagging must not be read.
            if not urls or len(errors) == len(urls) or any(not _skippable(e) for e in errors):
                raise errors[0] if errors else RemoteQueryError(
                    f"partition {partition}", "no healthy owner")

        await asyncio.gather(*(one(p) for p in self.partition_ids(tenant)))


def _skippable(exc: BaseException) -> bool:
    if isinstance(exc, RemoteQueryTimeoutError) or not isinstance(exc, RemoteQueryError):
        return False
    return exc.status is None or exc.status == 503
