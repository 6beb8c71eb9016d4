"""glibc's allocator, told to give freed memory back to the system.

Query arrays are large and short-lived, and they are allocated by several
threads. With glibc's defaults each thread gets its own arena (up to 8 per
core), the mmap threshold rises to the largest block ever freed (so later
arrays of up to 32 MiB come from those arenas), and freed pages in the middle
of an arena stay resident: after a few queries the process keeps hundreds of
MiB it no longer uses (BENCHMARKS.md, "Memory (issue 15)"). ``configure``
bounds the arenas and fixes the mmap threshold (big arrays are mapped and
unmapped, their pages returned at once); ``Trimmer`` hands back what is left
free inside the arenas (``malloc_trim``) once enough has accumulated.

Other C libraries (musl) have none of these calls: both become no-ops there.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
from dataclasses import dataclass

from tidewell.util.services import Supervisor

__all__ = ["ARENA_MAX", "MMAP_THRESHOLD_BYTES", "MallocInfo", "Trimmer", "configure",
           "malloc_info", "trim"]

log = logging.getLogger("tidewell.allocator")

ARENA_MAX = 2
"""Arenas shared by all threads: one per core here; more only spreads freed memory."""
MMAP_THRESHOLD_BYTES = 256 * 1024
"""Blocks this big or bigger are mmapped (glibc's initial default, kept fixed)."""
TRIM_THRESHOLD_BYTES = 4 * 1024 * 1024
"""Free memory at the top of the main heap beyond this is returned at each ``free``."""

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
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


@dataclass(frozen=True)
class Settings:
    """What ``configure`` applied (``applied`` is False off glibc)."""

    applied: bool
    arena_max: int = 0
    mmap_threshold: int = 0


def configure(arena_max: int = ARENA_MAX,
              mmap_threshold: int = MMAP_THRESHOLD_BYTES,
              trim_threshold: int = TRIM_THRESHOLD_BYTES) -> Settings:
    """Apply the settings above; call once at startup, before the worker threads exist
    (a thread keeps the arena it got first)."""
    if _LIBC is None:
        return Settings(applied=False)
    ok = (_LIBC.mallopt(_M_ARENA_MAX, arena_max) == 1
          and _LIBC.mallopt(_M_MMAP_THRESHOLD, mmap_threshold) == 1
          and _LIBC.mallopt(_M_TRIM_THRESHOLD, trim_threshold) == 1)
    return Settings(applied=ok, arena_max=arena_max, mmap_threshold=mmap_threshold)


def malloc_info() -> MallocInfo | None:
    """The allocator's counters (``fordblks``: bytes free inside the arenas)."""
    return None if _LIBC is None else _LIBC.mallinfo2()


def trim() -> bool:
    """Return every whole free page inside the arenas to the system (True if any)."""
    return _LIBC is not None and _LIBC.malloc_trim(0) == 1


class Trimmer:
    """A loop that trims once ``min_free_bytes`` lie free inside the arenas.

    Checking is cheap (``mallinfo2``); trimming walks every arena, so it runs in
    a thread and only when there is something worth giving back.
    """

    def __init__(self, interval_s: float = 2.0, min_free_bytes: int = 16 * 1024 * 1024) -> None:
        self.interval_s = interval_s
        self.min_free_bytes = min_free_bytes
        self.supervisor = Supervisor("allocator")
        self.trims = 0

    async def start(self) -> None:
        if _LIBC is not None:
            self.supervisor.every("trim", self.interval_s, self.iteration)

    async def stop(self) -> None:
        await self.supervisor.stop()

    async def iteration(self) -> None:
        info = malloc_info()
        if info is not None and info.fordblks >= self.min_free_bytes:
            await asyncio.to_thread(trim)
            self.trims += 1
