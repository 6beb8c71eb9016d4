"""glibc's allocator, told to give freed memory back to the system.

Query arrays are large and short-lived, and they are allocated by several
threads. With glibc's defaults each thread gets its own arena (up to 8 per
core), and pages freed inside an arena stay resident until that arena's top
shrinks: after a few queries the process kept hundreds of MiB it no longer
used (775 MiB vs 353 after the query scenario at 3k series, BENCHMARKS.md
"Memory (issue 15)"). ``configure`` bounds the arenas; ``Trimmer`` hands back
what lies free inside them (``malloc_trim``) once enough has accumulated.
glibc's mmap threshold is left dynamic: fixing it (256 KiB) kept no less
memory after the trims and made every large array cost page faults.

Other C libraries (musl) have none of these calls: both become no-ops there.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util

from tidewell.util.services import Supervisor

__all__ = ["ARENA_MAX", "MallocInfo", "Trimmer", "configure", "malloc_info", "trim"]

ARENA_MAX = 2
"""Arenas shared by all threads (glibc's default: 8 per core). Two keep the event loop and
the query workers from queueing on one lock; more only spread freed memory thinner."""
_M_ARENA_MAX = -8


class MallocInfo(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (all fields ``size_t``)."""

    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost")]


def _libc() -> ctypes.CDLL | None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    if not all(hasattr(libc, f) for f in ("mallopt", "malloc_trim", "mallinfo2")):
        return None
    libc.mallinfo2.restype = MallocInfo
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    return libc


_LIBC = _libc()


def configure(arena_max: int = ARENA_MAX) -> bool:
    """Bound the arenas (False off glibc); call once at startup, before the worker
    threads exist: a thread keeps the arena it got first."""
    return _LIBC is not None and _LIBC.mallopt(_M_ARENA_MAX, arena_max) == 1


def malloc_info() -> MallocInfo | None:
    """The allocator's counters (``fordblks``: bytes free inside the arenas)."""
    return None if _LIBC is None else _LIBC.mallinfo2()


def trim() -> bool:
    """Return every whole free page inside the arenas to the system (True if any)."""
    return _LIBC is not None and _LIBC.malloc_trim(0) == 1


class Trimmer:
    """A loop that trims once ``min_free_bytes`` lie free inside the arenas and stayed
    free since the previous check.

    Checking is cheap (``mallinfo2``: 10 to 500 µs, each arena locked in turn); trimming
    walks every arena (66 ms for 117 MiB left in 1200 holes, at load 12), so it runs
    in a thread and only when there is something worth giving back. Free memory that
    moved by more than an eighth since the last check is being reused by a burst of
    queries: returning it would only make the next query fault its pages in again.
    Trimming leaves the free total as it was (the pages go, the free chunks stay): an
    unchanged total means nothing was allocated since, nothing new to return. (A
    resident-size test instead missed the end of a burst after a trim in its middle.)
    """

    def __init__(self, interval_s: float = 0.5, min_free_bytes: int = 16 * 1024 * 1024) -> None:
        self.interval_s = interval_s
        self.min_free_bytes = min_free_bytes
        self.supervisor = Supervisor("allocator")
        self.trims = 0
        self._last_free = 0
        self._free_after_trim = -1

    async def start(self) -> None:
        if _LIBC is not None:
            self.supervisor.every("trim", self.interval_s, self.iteration)

    async def stop(self) -> None:
        await self.supervisor.stop()

    async def iteration(self) -> None:
        info = malloc_info()
        if info is None:
            return
        free, last = info.fordblks, self._last_free
        self._last_free = free
        if (free >= self.min_free_bytes and abs(free - last) <= free // 8
                and free != self._free_after_trim):
            await asyncio.to_thread(trim)
            self._free_after_trim = free
            self.trims += 1
