"""Worker threads for the CPU work of pushes: decompression, protobuf decoding,
RW 2.0 and OTLP conversion, validation and sharding.

Done on the event loop, a 100 MB body stalled every request of the process
(``/ready`` included) for seconds. On these threads the loop keeps answering:
the heavy steps are C (cramjam, upb, zlib) or Numba code that releases the GIL,
and Python's switch interval bounds the rest. How many requests may hold memory
at once stays the in-flight limits' business
(``-distributor.instance-limits.max-inflight-push-requests(-bytes)``); the
thread count bounds how many use CPU at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from tidewell.util.executors import shared_executor

__all__ = ["PUSH_THREADS", "off_loop", "push_executor"]

T = TypeVar("T")

PUSH_THREADS = 2
"""One per core of the machines we size for; more only queue on the GIL."""


def push_executor() -> ThreadPoolExecutor:
    """The process's pool for push work."""
    return shared_executor("tidewell-push", PUSH_THREADS)


async def off_loop(fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` on the push pool; the caller's task waits without blocking the loop."""
    return await asyncio.get_running_loop().run_in_executor(push_executor(), fn, *args)
