"""Appendable floors of ingesters in other processes, polled for the distributor.

In the ingest-storage architecture the client has its 2xx before an ingester
sees the sample, so the distributor is the last place that can refuse a sample
older than the head takes in order (the ingester then keeps it out of order, as
a late sample; a client whose clock or backlog is that far off should learn it
with a 400, as from Prometheus). In one process the distributor asks the local ingester; across
processes it keeps, per partition and tenant, the oldest timestamp every owner of
the partition still stores, polled from each owner's
``/ingester/appendable-floors`` every ``interval_s``
(``-distributor.appendable-floors-poll-interval``; why polling and not the ring:
``distributor/DESIGN.md``).

What makes a floor safe to refuse on:

* A head's floor only moves forward, so an answer from a few seconds ago is
  lower than the floor the ingester applies when it consumes the record: a stale
  floor refuses less, never more. An owner that stops answering keeps its last
  floor for that reason.
* Zone replicas each consume the partition into their own head and cut blocks
  at their own times: the partition's floor is the *lowest* of its owners'.
  A partition with an owner that never answered (just added, not yet in the
  instance ring, unreachable since this distributor started), or whose owner has
  no head for the tenant (an empty head takes anything), has no floor: nothing
  is refused there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

import httpx
from prometheus_client import Counter, Gauge

from tidewell.ring.instance_ring import InstanceRingSource
from tidewell.ring.partition_ring import PartitionRingSource
from tidewell.util.services import Supervisor

__all__ = ["FLOORS_PATH", "RemoteAppendableFloors", "partition_floors"]

log = logging.getLogger("tidewell.distributor")

FLOORS_PATH = "/ingester/appendable-floors"

REFRESHES = Counter(
    "tidewell_distributor_appendable_floors_refreshes_total",
    "Rounds of polling every partition owner's appendable floors.",
)
POLL_FAILURES = Counter(
    "tidewell_distributor_appendable_floors_poll_failures_total",
    "Polls of an ingester's appendable floors that failed (its last answer is kept).",
)
KNOWN_PARTITIONS = Gauge(
    "tidewell_distributor_appendable_floors_partitions",
    "Partitions whose every owner answered: the distributor refuses samples below their "
    "floors with 400; elsewhere old samples are acknowledged and may be dropped.",
)


def partition_floors(
    owners: Mapping[int, list[str]], answers: Mapping[str, Mapping[str, int]],
) -> dict[str, dict[int, int]]:
    """{tenant: {partition: floor}} from each owner's ``{tenant: floor}`` answer.

    A partition counts only when every owner answered, and a tenant only where
    every owner has a floor for it; the floor is the lowest of the owners'.
    """
    table: dict[str, dict[int, int]] = {}
    for partition, ids in owners.items():
        if not ids or any(i not in answers for i in ids):
            continue
        first, *rest = (answers[i] for i in ids)
        for tenant, floor in first.items():
            for other in rest:
                theirs = other.get(tenant)
                if theirs is None:
                    break
                floor = min(floor, theirs)
            else:
                table.setdefault(tenant, {})[partition] = floor
    return table


class RemoteAppendableFloors:
    """The distributor's ``appendable_floors`` when the ingesters run elsewhere.

    A service: ``start`` polls once (failures only logged) and then every
    ``interval_s`` under its supervisor.
    """

    def __init__(
        self,
        partitions: PartitionRingSource,
        instances: InstanceRingSource,
        *,
        interval_s: float = 5.0,
        timeout_s: float = 2.0,
    ) -> None:
        self.partitions = partitions
        self.instances = instances
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.supervisor = Supervisor("appendable-floors")
        self._client: httpx.AsyncClient | None = None
        self._answers: dict[str, dict[str, int]] = {}
        """Owner instance ID -> its last answer {tenant: floor}."""
        self._table: dict[str, dict[int, int]] = {}
        self._failing: set[str] = set()
        """Owners whose last poll failed (logged once per outage)."""

    def floors(self, tenant: str) -> dict[int, int]:
        """{partition: floor} for ``tenant``; partitions without a known floor are absent.

        Called from push worker threads: it reads a table that ``refresh`` replaces
        whole.
        """
        return self._table.get(tenant, {})

    async def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=self.timeout_s)
        await self.refresh()
        self.supervisor.every("appendable-floors", self.interval_s, self.refresh)

    async def stop(self) -> None:
        await self.supervisor.stop()
        if self._client is not None:
            await self._client.aclose()

    async def refresh(self) -> None:
        """Ask every owner of every partition for its floors, then rebuild the table."""
        desc = self.partitions.partition_ring().desc
        owners = {p: sorted(desc.owners_of(p)) for p in desc.partitions}
        addrs = {i.id: i.addr for i in self.instances.instance_ring().instances()}
        asked = [(p, o) for p, ids in owners.items() for o in ids if addrs.get(o)]
        got = await asyncio.gather(*(self._ask(p, o, addrs[o]) for p, o in asked))
        for (_, owner), answer in zip(asked, got, strict=True):
            if answer is not None:
                self._answers[owner] = answer
        current = {o for ids in owners.values() for o in ids}
        for gone in set(self._answers) - current:
            del self._answers[gone]
        self._table = partition_floors(owners, self._answers)
        KNOWN_PARTITIONS.set(sum(
            1 for ids in owners.values() if ids and all(o in self._answers for o in ids)))
        REFRESHES.inc()

    async def _ask(self, partition: int, owner: str, addr: str) -> dict[str, int] | None:
        assert self._client is not None
        try:
            r = await self._client.get(f"http://{addr}{FLOORS_PATH}")
            r.raise_for_status()
            body = r.json()
            if body.get("partition") != partition:
                raise ValueError(f"answers for partition {body.get('partition')}")
            answer = {str(t): int(f) for t, f in body["floors"].items()}
        except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as exc:
            POLL_FAILURES.inc()
            if owner not in self._failing:
                self._failing.add(owner)
                log.warning("cannot read an ingester's appendable floors, keeping the last ones",
                            extra={"fields": {"ingester": owner, "addr": addr,
                                              "err": repr(exc)}})
            return None
        self._failing.discard(owner)
        return answer
