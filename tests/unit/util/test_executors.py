"""Shared pools: one per name, reused, threads named after it."""

from __future__ import annotations

import threading

from tidewell.util.executors import shared_executor


def test_one_pool_per_name_with_named_threads() -> None:
    a = shared_executor("test-pool-a", 2)
    assert shared_executor("test-pool-a", 8) is a
    assert shared_executor("test-pool-b", 2) is not a
    assert a.submit(lambda: threading.current_thread().name).result().startswith("test-pool-a")
