"""How an instance joins, heartbeats in and leaves an instance ring (dskit's BasicLifecycler).

``start`` registers the instance JOINING (reusing its tokens if it is already in
the ring, e.g. after a crash), switches it ACTIVE and heartbeats every
``heartbeat_period``; each heartbeat re-adds the instance if the entry
vanished (KV data lost, or "forgotten" from the status page). ``stop`` marks
it LEAVING and, with ``unregister_on_shutdown``, removes it.

With ``auto_forget_unhealthy_periods`` (store-gateways use 10, as Mimir), each
heartbeat also removes instances whose last heartbeat is older than that many
heartbeat timeouts, so a crashed instance does not stay in the ring forever.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from tidewell.ring.config import InstanceRingConfig
from tidewell.ring.instance_ring import InstanceDesc, InstanceRingDesc, InstanceState
from tidewell.ring.kv import KV, update_value
from tidewell.ring.metrics import RING_MEMBER_HEARTBEATS, RING_MEMBER_TOKENS_OWNED
from tidewell.util.services import Supervisor

__all__ = ["InstanceLifecycler", "generate_tokens"]

log = logging.getLogger("tidewell.ring")


def generate_tokens(n: int, taken: set[int], rng: random.Random | None = None) -> list[int]:
    """``n`` random 32-bit tokens not in ``taken`` (dskit's random token generator)."""
    rng = rng or random.Random()
    out: set[int] = set()
    while len(out) < n:
        t = rng.getrandbits(32)
        if t not in taken:
            out.add(t)
    return sorted(out)


class InstanceLifecycler:
    """Keeps one instance's entry in an instance ring alive."""

    def __init__(
        self,
        kv: KV,
        key: str,
        config: InstanceRingConfig,
        *,
        instance_id: str,
        addr: str,
        zone: str = "",
        name: str | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        auto_forget_unhealthy_periods: int = 0,
    ) -> None:
        self.kv = kv
        self.key = key
        self.config = config
        self.instance_id = instance_id
        self.addr = addr
        self.zone = zone
        self.name = name if name is not None else key
        self.clock = clock
        self._rng = rng or random.Random()
        self.auto_forget_unhealthy_periods = auto_forget_unhealthy_periods
        self.state = InstanceState.PENDING
        self.tokens: list[int] = []
        self.supervisor = Supervisor(f"{self.name}-lifecycler")
        """The heartbeat loop: anything but a KV error fails the module."""

    async def _update(self, f: Callable[[InstanceRingDesc], bool]) -> InstanceRingDesc:
        return await update_value(self.kv, self.key, InstanceRingDesc, f)

    def _ensure(self, desc: InstanceRingDesc, state: InstanceState, now: float) -> bool:
        """Put this instance in ``desc`` with ``state`` and a fresh heartbeat."""
        inst = desc.instances.get(self.instance_id)
        if inst is None:
            if not self.tokens:
                taken = {t for i in desc.instances.values() for t in i.tokens}
                self.tokens = generate_tokens(self.config.num_tokens, taken, self._rng)
            inst = InstanceDesc(self.instance_id, self.addr, self.zone, state, list(self.tokens),
                                now, now)
            desc.instances[self.instance_id] = inst
            return True
        if not self.tokens:
            self.tokens = list(inst.tokens) or generate_tokens(
                self.config.num_tokens,
                {t for i in desc.instances.values() for t in i.tokens},
                self._rng,
            )
        inst.addr, inst.zone, inst.state, inst.tokens = self.addr, self.zone, state, self.tokens
        inst.timestamp = now
        return True

    async def register(self) -> None:
        """JOINING then ACTIVE, keeping tokens already in the ring for this instance ID."""
        now = self.clock()
        await self._update(lambda d: self._ensure(d, InstanceState.JOINING, now))
        self.state = InstanceState.JOINING
        await self.change_state(InstanceState.ACTIVE)
        RING_MEMBER_TOKENS_OWNED.labels(self.name).set(len(self.tokens))
        log.info(
            "instance registered in the ring ring=%s instance=%s addr=%s zone=%s tokens=%d",
            self.name, self.instance_id, self.addr, self.zone, len(self.tokens),
        )

    async def change_state(self, state: InstanceState) -> None:
        now = self.clock()
        await self._update(lambda d: self._ensure(d, state, now))
        self.state = state

    async def heartbeat(self) -> None:
        """Refresh this instance's timestamp (re-adding it if the entry disappeared)."""
        now = self.clock()

        def f(desc: InstanceRingDesc) -> bool:
            self._ensure(desc, self.state, now)
            self._forget_dead(desc, now)
            return True

        await self._update(f)
        RING_MEMBER_HEARTBEATS.labels(self.name).inc()

    def _forget_dead(self, desc: InstanceRingDesc, now: float) -> None:
        periods, timeout = self.auto_forget_unhealthy_periods, self.config.heartbeat_timeout
        if periods <= 0 or timeout <= 0:
            return
        for iid, inst in list(desc.instances.items()):
            if iid != self.instance_id and now - inst.timestamp > periods * timeout:
                del desc.instances[iid]
                log.warning("auto-forgot unhealthy instance ring=%s instance=%s last_heartbeat=%s",
                            self.name, iid, inst.timestamp)

    async def _beat(self) -> None:
        try:
            await self.heartbeat()
        except Exception as exc:  # KV down: keep trying, the next beat may succeed
            log.warning("ring heartbeat failed ring=%s err=%s", self.name, exc)

    async def start(self) -> None:
        """Register and start heartbeating on the running event loop."""
        await self.register()
        if self.config.heartbeat_period > 0 and not self.supervisor.running:
            self.supervisor.every("heartbeat", self.config.heartbeat_period, self._beat)

    async def stop(self) -> None:
        """Stop heartbeating; LEAVING, then unregister if configured."""
        await self.supervisor.stop()
        if self.state is InstanceState.PENDING:
            return
        await self.change_state(InstanceState.LEAVING)
        if self.config.unregister_on_shutdown:
            await self._update(lambda d: d.instances.pop(self.instance_id, None) is not None)
            log.info("instance unregistered ring=%s instance=%s", self.name, self.instance_id)
