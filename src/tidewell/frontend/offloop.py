"""The frontend's CPU steps on threads, where pushes can preempt them (issue 14).

In one process the event loop serves pushes and queries alike, and a callback on
it is never preempted: every millisecond the frontend spends decoding a cached
entry, merging extents or encoding an answer on the loop is a millisecond a push's
next step waits. On a thread the same work competes for the GIL instead, and
parks at ``WRITES.checkpoint()`` while a push is in flight (util/priority.py).

A small pool of its own, not the querier's workers: a merge must never wait in
line behind slow queries, and two threads are as many as two cores run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tidewell.api.prometheus.workers import QueryWorkers
from tidewell.util.priority import WRITES

__all__ = ["THREADS", "off_loop"]

T = TypeVar("T")

THREADS = 2
"""Threads of the pool (started on first use, shared by all frontends in the process)."""

_POOL = QueryWorkers(THREADS)


def _gated(fn: Callable[[], T]) -> T:
    WRITES.checkpoint()
    return fn()


async def off_loop(fn: Callable[[], T]) -> T:
    """``fn()`` on a frontend thread, after stepping aside for pushes in flight; ``fn``
    may call ``WRITES.checkpoint()`` between its own steps."""
    return await _POOL.run(lambda: _gated(fn))
