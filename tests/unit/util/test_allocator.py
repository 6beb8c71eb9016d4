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


MMAPPED_AFTER_BIG_FREE = """
    import numpy as np
    from tidewell.util import allocator
    {setup}
    big = np.ones(8 << 20, dtype=np.uint8)  # mmapped; freeing it raises glibc's threshold
    del big
    before = allocator.malloc_info().hblks
    mid = np.ones(1 << 20, dtype=np.uint8)
    print(allocator.malloc_info().hblks - before)
"""


def test_default_glibc_puts_mid_sized_arrays_in_the_heap_after_a_big_free() -> None:
    # What configure() changes: without it, a 1 MiB array after an 8 MiB one is not mmapped.
    assert _run(MMAPPED_AFTER_BIG_FREE.format(setup="")) == "0"


def test_configure_keeps_the_mmap_threshold_fixed() -> None:
    out = _run(MMAPPED_AFTER_BIG_FREE.format(
        setup="assert allocator.configure().applied"))
    assert out == "1"


def test_trimmer_returns_freed_arena_memory() -> None:
    out = _run("""
        import asyncio, threading
        import numpy as np
        from tidewell.util import allocator

        allocator.configure()

        def rss_kib():
            with open("/proc/self/status") as f:
                return next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))

        def churn():
            # 200 KiB blocks (under the mmap threshold: they live in an arena), every
            # other one kept so that the freed ones are holes the heap cannot shrink past
            blocks = [np.ones(200 * 1024, dtype=np.uint8) for _ in range(1200)]
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
            await trimmer.stop()
            return trimmer.trims

        trims = asyncio.run(main())
        print(free_mib, trims, (before - rss_kib()) >> 10)
    """)
    free_mib, trims, returned_mib = map(int, out.split())
    assert free_mib >= 100  # the holes: ~117 MiB
    assert trims >= 1
    assert returned_mib >= 80, out


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
