"""Worker threads for the CPU work of pushes: decompression, protobuf decoding,
RW 2.0 and OTLP conversion, validation and sharding.

Done on the event loop, a 100 MB body stalled every request of the process
(``/ready`` included) for seconds. On these threads the loop keeps answering:
the heavy steps are C (cramjam, zlib) or Numba code that releases the GIL,
and Python's switch interval bounds the rest. How many requests may hold memory
at once stays the in-flight limits' business
(``-distributor.instance-limits.max-inflight-push-requests(-bytes)``); the
thread count bounds how many use CPU at once.

A small push (a decoded body of at most ``INLINE_MAX_BYTES``) skips the pool:
its whole CPU work is about a millisecond, less than what two hand-offs to a
worker thread and back cost when query threads hold the GIL (each wake-up of
the worker and then of the loop waits up to a switch interval for the GIL, and
for a core on a busy machine). ``inline_when`` marks such a request;
``off_loop`` then calls at once. See DESIGN.md, "Off the event loop".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from tidewell.util.executors import shared_executor

__all__ = ["INLINE_MAX_BYTES", "PUSH_THREADS", "inline_when", "off_loop", "push_executor"]

T = TypeVar("T")

PUSH_THREADS = 2
"""One per core of the machines we size for; more only queue on the GIL."""

INLINE_MAX_BYTES = 128 * 1024
"""Decoded pushes up to this size run on the loop (~3,000 samples, ~1-2 ms of CPU)."""

_inline: ContextVar[bool] = ContextVar("tidewell_push_inline", default=False)


def push_executor() -> ThreadPoolExecutor:
    """The process's pool for push work."""
    return shared_executor("tidewell-push", PUSH_THREADS)


@contextmanager
def inline_when(small: bool) -> Iterator[None]:
    """Within the block, ``off_loop`` runs its call on the loop if ``small``."""
    token = _inline.set(small)
    try:
        yield
    finally:
        _inline.reset(token)


async def off_loop(fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` on the push pool (or at once for a small push, see ``inline_when``);
    the caller's task waits without blocking the loop."""
    if _inline.get():
        return fn(*args)
    return await asyncio.get_running_loop().run_in_executor(push_executor(), fn, *args)
