"""Which groups run here, and when: sync from the store, one loop per group.

Every ``-ruler.poll-interval`` the manager lists all tenants' groups, keeps the
ones this ruler owns (``owns(group key)``: the ruler ring, or everything when
there is one ruler), starts a loop for new groups, restarts changed ones
(keeping their alerts, as Prometheus does) and stops the others, writing stale
markers for their series when the group is gone from the store.

A group's evaluations happen at ``offset + k·interval`` (offset: a hash of the
group, so groups spread over the interval, as Prometheus's ``EvalTimestamp``);
an evaluation that overruns skips the missed slots and counts them. A group
loop that fails unexpectedly (not a rule error: those are recorded) fails the
ruler module loudly.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from tidewell.ruler import metrics
from tidewell.ruler.evaluation import GroupEvaluator, new_group_state
from tidewell.ruler.rulefmt import RuleGroup
from tidewell.ruler.state import GroupState, group_key
from tidewell.ruler.store import RuleStore
from tidewell.util.services import Supervisor

__all__ = ["GroupManager", "eval_timestamps"]

log = logging.getLogger("tidewell.ruler")


def _offset(key: str, interval: float) -> float:
    h = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")
    return (h % max(1, round(interval * 1000))) / 1000


def eval_timestamps(key: str, interval: float, now: float) -> float:
    """The first evaluation time after ``now`` on the group's grid."""
    off = _offset(key, interval)
    return math.floor((now - off) / interval) * interval + off + interval


@dataclass
class _Running:
    state: GroupState
    task: asyncio.Task[None]


class GroupManager:
    def __init__(self, store: RuleStore, evaluator: GroupEvaluator, *, default_interval: float,
                 poll_interval: float, owns: Callable[[str], bool] = lambda key: True,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.evaluator = evaluator
        self.default_interval = default_interval
        self.poll_interval = poll_interval
        self.owns = owns
        self.clock = clock
        self.running: dict[str, _Running] = {}
        self.supervisor = Supervisor("ruler")
        self._resync = asyncio.Event()

    async def start(self) -> None:
        self.supervisor.spawn("rule-groups", self._run)

    async def stop(self) -> None:
        await self.supervisor.stop()
        for r in self.running.values():
            r.task.cancel()
        for r in self.running.values():
            with contextlib.suppress(asyncio.CancelledError):
                await r.task
        self.running.clear()

    def resync(self) -> None:
        """Sync with the store now rather than at the next poll (the ring changed)."""
        self._resync.set()

    def states(self, tenant: str) -> dict[tuple[str, str], GroupState]:
        return {(r.state.namespace, r.state.group.name): r.state
                for r in self.running.values() if r.state.tenant == tenant}

    def all_states(self) -> list[GroupState]:
        return [r.state for r in self.running.values()]

    async def _run(self) -> None:
        while True:
            await self.sync()
            tasks = [r.task for r in self.running.values()]
            waiter = asyncio.ensure_future(self._resync.wait())
            done, _ = await asyncio.wait([*tasks, waiter], timeout=self.poll_interval,
                                         return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            self._resync.clear()
            for t in done:
                if t is not waiter and not t.cancelled() and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]

    async def sync(self) -> None:
        wanted: dict[str, tuple[str, str, RuleGroup]] = {}
        in_store: set[str] = set()
        tenants = await asyncio.to_thread(self.store.list_tenants)
        for tenant in tenants:
            groups = await asyncio.to_thread(self.store.list_groups, tenant)
            for namespace, gs in groups.items():
                for g in gs:
                    key = group_key(tenant, namespace, g.name)
                    in_store.add(key)
                    if self.owns(key):
                        wanted[key] = (tenant, namespace, g)
        for tenant in {r.state.tenant for r in self.running.values()} | set(tenants):
            owned = sum(1 for t, _, _ in wanted.values() if t == tenant)
            metrics.RULER_OWNED_GROUPS.labels(tenant).set(owned)
        for key in [k for k in self.running if k not in wanted]:
            r = self.running.pop(key)
            await self._cancel(r)
            if key not in in_store:  # deleted, not moved: its series end here
                await self.evaluator.mark_stale(r.state, self.clock())
        for key, (tenant, namespace, group) in wanted.items():
            r = self.running.get(key)
            if r is not None and r.state.group == group:
                continue
            previous = None
            if r is not None:
                await self._cancel(r)
                previous = r.state
            state = new_group_state(tenant, namespace, group, self.default_interval, previous)
            label = (tenant, f"{namespace};{state.group.name}")
            metrics.GROUP_INTERVAL.labels(*label).set(state.interval)
            metrics.GROUP_RULES.labels(*label).set(len(state.rules))
            metrics.EVALUATION_FAILURES.labels(*label)  # exported as 0 from the start
            metrics.GROUP_ITERATIONS_MISSED.labels(*label)
            self.running[key] = _Running(state, asyncio.get_running_loop().create_task(
                self._loop(state), name=f"ruler/{namespace}/{state.group.name}"))

    @staticmethod
    async def _cancel(r: _Running) -> None:
        r.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await r.task

    async def _loop(self, gs: GroupState) -> None:
        label = (gs.tenant, f"{gs.namespace};{gs.group.name}")
        ts = eval_timestamps(gs.key, gs.interval, self.clock())
        while True:
            await asyncio.sleep(max(0.0, ts - self.clock()))
            metrics.GROUP_ITERATIONS.labels(*label).inc()
            await self.evaluator.evaluate(gs, ts)
            missed = max(0, math.floor((self.clock() - ts) / gs.interval) - 1)
            if missed:
                metrics.GROUP_ITERATIONS_MISSED.labels(*label).inc(missed)
                metrics.GROUP_ITERATIONS.labels(*label).inc(missed)
            ts += (missed + 1) * gs.interval
