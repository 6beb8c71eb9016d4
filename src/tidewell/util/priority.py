"""Write priority inside one process: query threads step aside while a push is served.

Why: a process with a GIL has no OS scheduler between its reads and its writes. A push
spends a few milliseconds of Python on the event loop, but it gives the GIL away at
every I/O and then waits to get it back behind query worker threads that hold it most
of the time (issue 14: push p99 7 ms idle, 43 ms beside 30 range-query loops). Mimir
runs reads and writes in separate processes; here the push path registers itself while
it is served (``WriteGate.writing``) and query threads call ``WriteGate.checkpoint``
where they already check their deadline. While a write is in flight, a checkpoint waits
on a condition (the GIL released) until no write is, at most ``max_wait_s`` and never
past the query's deadline. A thread whose wait ran out (pushes back to back) then runs
at least ``min_run_s`` before it waits again: queries are slowed, never starved.

The event loop is shared too: a query's own steps on it (the frontend's cache and merge,
the hand-over of the answer) run between a push's steps, and one callback is never
preempted by another. Query code on the loop awaits ``step_aside`` before such a step,
so the push's callbacks go first (again at most ``max_wait_s``).

The gate is per process (``WRITES``), as the GIL is; a process that serves no pushes
(a querier of its own) never waits.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter

__all__ = ["WRITES", "WriteGate"]

YIELDS = Counter(
    "tidewell_query_write_yields_total",
    "Times a query thread stepped aside (released the GIL) for a push in flight "
    "(-querier.write-priority-max-wait): on a query worker thread or, for a query's "
    "steps on the event loop, as a task.",
    ["where"],
)
YIELD_SECONDS = Counter(
    "tidewell_query_write_yield_seconds_total",
    "Time queries spent stepped aside for pushes in flight.",
    ["where"],
)
WORKER, LOOP = "worker", "event-loop"


class WriteGate:
    """Counts writes in flight; ``checkpoint`` parks the calling thread while any is."""

    def __init__(self, max_wait_s: float = 0.01, min_run_s: float = 0.01) -> None:
        self.max_wait_s = max_wait_s
        self.min_run_s = min_run_s
        self.writes = 0
        """Writes in flight; read without the lock by ``checkpoint`` (a hint, rechecked)."""
        self._cond = threading.Condition(threading.Lock())
        self._local = threading.local()
        self._loop_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def configure(self, max_wait_s: float, min_run_s: float) -> None:
        """Set the cap of one wait (0 turns waiting off) and the run after a full wait."""
        self.max_wait_s = max(0.0, max_wait_s)
        self.min_run_s = max(0.0, min_run_s)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """A write is in flight within the block (cheap: a lock held for a counter)."""
        with self._cond:
            self.writes += 1
        try:
            yield
        finally:
            waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
            with self._cond:
                self.writes -= 1
                if not self.writes:
                    self._cond.notify_all()
                    waiters, self._loop_waiters = self._loop_waiters, []
            for loop, fut in waiters:
                loop.call_soon_threadsafe(_release, fut)

    def checkpoint(self, deadline: float = math.inf) -> None:
        """Step aside while writes are in flight (``deadline``: ``time.monotonic`` time
        at which the wait ends regardless). Idle cost: one attribute read and compare.
        For query threads only: on the event loop it would hold up the push itself."""
        if self.writes:
            self._wait(deadline)

    def _wait(self, deadline: float) -> None:
        cap = self.max_wait_s
        if cap <= 0:
            return
        start = time.monotonic()
        if start < getattr(self._local, "run_until", 0.0):
            return  # the last wait ran out: this thread's minimum run is not over
        end = min(start + cap, deadline)
        with self._cond:
            if not self.writes or end <= start:
                return
            YIELDS.labels(WORKER).inc()
            while self.writes:
                left = end - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            ran_out = bool(self.writes)
        now = time.monotonic()
        YIELD_SECONDS.labels(WORKER).inc(now - start)
        if ran_out:
            self._local.run_until = now + self.min_run_s

    async def step_aside(self) -> None:
        """On an event loop: let the pushes in flight go first (at most ``max_wait_s``).
        Idle cost: one attribute read and compare."""
        if not self.writes or self.max_wait_s <= 0:
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._cond:
            if not self.writes:
                return
            self._loop_waiters.append((loop, fut))
        YIELDS.labels(LOOP).inc()
        start = time.monotonic()
        try:
            async with asyncio.timeout(self.max_wait_s):
                await fut
        except TimeoutError:
            with self._cond:
                if (loop, fut) in self._loop_waiters:
                    self._loop_waiters.remove((loop, fut))
        YIELD_SECONDS.labels(LOOP).inc(time.monotonic() - start)


def _release(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


WRITES = WriteGate()
"""The process's gate: pushes enter it, query evaluation checks it."""
