"""Ring pages of a single process, where components call each other directly.

With the querier beside the ingester (or the store-gateway) the process joins no
instance ring, so ``/ingester/ring`` and ``/store-gateway/ring`` had nothing to show.
Mimir's monolithic mode shows a ring of one: so do these pages, with this process as
the only instance, ACTIVE while the component's service runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tidewell.ring.instance_ring import InstanceDesc, InstanceRing, InstanceRingDesc, InstanceState

__all__ = ["LocalInstanceRing"]


class LocalInstanceRing:
    """An ``InstanceRingSource`` of one instance: this process."""

    def __init__(self, name: str, instance_id: str, addr: str, zone: str,
                 running: Callable[[], bool]) -> None:
        self.name = name
        self.instance_id = instance_id
        self.addr = addr
        self.zone = zone
        self.running = running
        self.registered = time.time()

    def instance_ring(self) -> InstanceRing:
        now = time.time()
        state = InstanceState.ACTIVE if self.running() else InstanceState.PENDING
        desc = InstanceDesc(self.instance_id, self.addr, self.zone, state, [], now,
                            self.registered)
        return InstanceRing(InstanceRingDesc({self.instance_id: desc}), name=self.name)
