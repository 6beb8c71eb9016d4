"""Push work runs on the pool, except a small push, which the loop does at once."""

from __future__ import annotations

import asyncio
import threading

from tidewell.distributor.http import decoded_size
from tidewell.distributor.workers import INLINE_MAX_BYTES, inline_when, off_loop
from tidewell.protocol import snappy_compress


def _thread() -> str:
    return threading.current_thread().name


def test_small_push_work_stays_on_the_loop_thread_large_goes_to_the_pool() -> None:
    async def go() -> tuple[str, str, str, str]:
        with inline_when(True):
            small = await off_loop(_thread)
        with inline_when(False):
            large = await off_loop(_thread)
        unmarked = await off_loop(_thread)
        return _thread(), small, large, unmarked

    loop_thread, small, large, unmarked = asyncio.run(go())
    assert small == loop_thread
    assert large.startswith("tidewell-push") and unmarked.startswith("tidewell-push")


def test_decoded_size_is_known_before_decoding_only_where_it_is_bounded() -> None:
    raw = b"x" * (INLINE_MAX_BYTES + 1)
    assert decoded_size(snappy_compress(raw), "snappy") == len(raw)  # the snappy header
    assert decoded_size(raw, "identity") == len(raw)
    assert decoded_size(b"\x1f\x8b tiny gzip", "gzip") > INLINE_MAX_BYTES  # unknown: pool
