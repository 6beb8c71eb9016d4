"""How an ingester joins and leaves the partition ring (dskit's PartitionInstanceLifecycler).

``register`` creates the ingester's partition PENDING if it is new and records
the ingester as an owner. ``reconcile`` (called every poll period) switches a
PENDING partition to ACTIVE once it has had enough owners for
``min_partition_owners_duration``, and deletes INACTIVE partitions without
owners after ``delete_inactive_partition_after``. Downscaling marks the
partition INACTIVE first so distributors stop writing to it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from tidewell.ring.config import PartitionRingConfig
from tidewell.ring.kv import KV, update_value
from tidewell.ring.metrics import PARTITIONS
from tidewell.ring.model import PartitionRingDesc, PartitionState
from tidewell.ring.partition_ring import PARTITION_RING_KEY
from tidewell.util.services import Supervisor

__all__ = ["PartitionInstanceLifecycler", "PartitionNotFoundError"]

log = logging.getLogger("tidewell.ring")


class PartitionNotFoundError(Exception):
    pass


def update_partition_metrics(desc: PartitionRingDesc) -> None:
    for state in PartitionState:
        PARTITIONS.labels(state.value).set(
            sum(1 for p in desc.partitions.values() if p.state is state)
        )


class PartitionInstanceLifecycler:
    """Keeps one owner's registration for one partition in the ring."""

    def __init__(
        self,
        kv: KV,
        config: PartitionRingConfig | None = None,
        *,
        key: str = PARTITION_RING_KEY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.kv = kv
        self.config = config or PartitionRingConfig()
        self.key = key
        self.clock = clock
        self.partition_id: int | None = None
        self.owner_id: str | None = None
        self.supervisor = Supervisor("partition-ring-lifecycler")
        """The reconcile timer: KV errors are retried, anything else fails the module."""

    async def _update(self, f: Callable[[PartitionRingDesc], bool]) -> PartitionRingDesc:
        desc = await update_value(self.kv, self.key, PartitionRingDesc, f)
        update_partition_metrics(desc)
        return desc

    async def register(self, partition_id: int, owner_id: str) -> None:
        """Create the partition (PENDING) if absent and add ``owner_id`` as its owner."""
        self.partition_id, self.owner_id = partition_id, owner_id
        now = self.clock()

        def f(desc: PartitionRingDesc) -> bool:
            changed = False
            if partition_id not in desc.partitions:
                desc.add_partition(partition_id, PartitionState.PENDING, now)
                log.info("partition created in the ring partition=%d state=PENDING", partition_id)
                changed = True
            return desc.add_or_update_owner(owner_id, partition_id, now) or changed

        await self._update(f)

    async def unregister_owner(self) -> None:
        """Remove this owner (e.g. on scale-down shutdown); the partition stays."""
        owner = self.owner_id
        if owner is None:
            return
        await self._update(lambda d: d.remove_owner(owner))

    async def reconcile(self) -> None:
        """PENDING → ACTIVE after enough owners for long enough; drop old INACTIVE partitions."""
        now = self.clock()
        cfg = self.config

        def f(desc: PartitionRingDesc) -> bool:
            changed = False
            if self.owner_id is not None and self.partition_id is not None:
                changed |= desc.add_or_update_owner(self.owner_id, self.partition_id, now)
            for p in list(desc.partitions.values()):
                owners = desc.owners_of(p.id)
                if p.state is PartitionState.PENDING:
                    ready = [
                        o for o in owners.values()
                        if now - o.updated_timestamp >= cfg.min_partition_owners_duration
                    ]
                    if len(ready) >= cfg.min_partition_owners_count:
                        desc.update_partition_state(p.id, PartitionState.ACTIVE, now)
                        log.info("partition switched to ACTIVE partition=%d", p.id)
                        changed = True
                elif (
                    p.state is PartitionState.INACTIVE
                    and cfg.delete_inactive_partition_after > 0
                    and not owners
                    and now - p.state_timestamp >= cfg.delete_inactive_partition_after
                ):
                    del desc.partitions[p.id]
                    log.info("inactive partition deleted partition=%d", p.id)
                    changed = True
            return changed

        await self._update(f)

    async def reconcile_or_log(self) -> None:
        """One reconcile round; the KV store being away is logged and retried next round."""
        try:
            await self.reconcile()
        except Exception as exc:
            log.warning("partition ring reconcile failed", extra={"fields": {"err": str(exc)}})

    def start(self) -> None:
        """Reconcile every ``lifecycler_poll_period`` seconds on the running event loop."""
        if not self.supervisor.running:
            self.supervisor.every("reconcile", self.config.lifecycler_poll_period,
                                  self.reconcile_or_log)

    async def stop(self) -> None:
        await self.supervisor.stop()

    async def _set_state(self, state: PartitionState, allowed: tuple[PartitionState, ...]) -> None:
        pid = self._pid()
        now = self.clock()

        def f(desc: PartitionRingDesc) -> bool:
            p = desc.partitions.get(pid)
            if p is None:
                raise PartitionNotFoundError(f"partition {pid} not found in the ring")
            if p.state not in allowed and p.state is not state:
                raise ValueError(
                    f"partition {pid} is {p.state.value}, cannot switch to {state.value}"
                )
            return desc.update_partition_state(pid, state, now)

        await self._update(f)

    async def prepare_downscale(self) -> None:
        """Mark the partition INACTIVE: distributors stop writing to it."""
        await self._set_state(PartitionState.INACTIVE, (PartitionState.ACTIVE,))

    async def cancel_downscale(self) -> None:
        await self._set_state(PartitionState.ACTIVE, (PartitionState.INACTIVE,))

    async def downscale_state(self) -> tuple[PartitionState, float]:
        """(state, time of last state change) of this lifecycler's partition."""
        pid = self._pid()
        desc: PartitionRingDesc | None = await self.kv.get(self.key)
        if desc is None or pid not in desc.partitions:
            raise PartitionNotFoundError(f"partition {pid} not found in the ring")
        p = desc.partitions[pid]
        return p.state, p.state_timestamp

    def _pid(self) -> int:
        if self.partition_id is None:
            raise PartitionNotFoundError("lifecycler has not registered a partition")
        return self.partition_id
