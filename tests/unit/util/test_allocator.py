"""glibc allocator settings and trimming, each in a fresh interpreter (they are process-wide)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tidewell.util import allocator

pytestmark = pytest.mark.skipif(allocator.malloc_info() is None,
                                reason="not glibc: the allocator calls are no-ops")


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


ARENAS_OF_EIGHT_THREADS = """
    import ctypes, os, threading
    import numpy as np
    from tidewell.util import allocator
    {setup}
    start = threading.Barrier(8)
    held = []

    def work():
        start.wait()
        held.append(np.ones(100_000, dtype=np.uint8))  # malloc'ed in this thread's arena
        start.wait()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    os.dup2(1, 2)  # malloc_stats writes to stderr
    ctypes.CDLL(None).malloc_stats()
"""


def _arenas(setup: str) -> int:
    return _run(ARENAS_OF_EIGHT_THREADS.format(setup=setup)).count("Arena ")


def test_configure_bounds_the_arenas() -> None:
    assert _arenas("") > 2  # glibc's default: a new arena per thread, up to 8 per core
    assert _arenas("assert allocator.configure()") <= 2


def test_trimmer_returns_freed_arena_memory() -> None:
    out = _run("""
        import asyncio, threading
        import numpy as np
        from tidewell.util import allocator

        def rss_kib():
            with open("/proc/self/status") as f:
                return next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))

        def churn():
            # 100 KiB blocks (under glibc's initial 128 KiB mmap threshold: in an arena), every
            # other one kept so that the freed ones are holes the heap cannot shrink past
            blocks = [np.ones(100 * 1024, dtype=np.uint8) for _ in range(2400)]
            keep = blocks[1::2]
            blocks.clear()
            return keep

        kept = []
        t = threading.Thread(target=lambda: kept.append(churn()))
        t.start(); t.join()
        free_mib = allocator.malloc_info().fordblks >> 20
        before = rss_kib()

        async def main():
            trimmer = allocator.Trimmer(interval_s=0.05, min_free_bytes=16 << 20)
            await trimmer.start()
            for _ in range(100):
                if trimmer.trims:
                    break
                await asyncio.sleep(0.05)
            first = rss_kib()
            await asyncio.sleep(1.0)  # 20 more checks of an idle process
            await trimmer.stop()
            return trimmer.trims, first

        trims, after_first = asyncio.run(main())
        print(free_mib, trims, (before - after_first) >> 10)
    """)
    free_mib, trims, returned_mib = map(int, out.split())
    assert free_mib >= 100  # the holes: ~117 MiB
    assert returned_mib >= 80, out
    assert trims >= 1, out


def test_trimmer_leaves_little_free_memory_alone() -> None:
    out = _run("""
        import asyncio
        from tidewell.util import allocator

        async def main():
            trimmer = allocator.Trimmer(interval_s=0.02, min_free_bytes=1 << 40)
            await trimmer.start()
            await asyncio.sleep(0.2)
            await trimmer.stop()
            return trimmer.trims

        print(asyncio.run(main()))
    """)
    assert out == "0"
