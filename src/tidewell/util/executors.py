"""Thread pools shared by a whole process, made on first use."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["shared_executor"]

_pools: dict[str, ThreadPoolExecutor] = {}
_lock = threading.Lock()


def shared_executor(name: str, threads: int) -> ThreadPoolExecutor:
    """The pool called ``name`` (its threads are named after it), created with ``threads``.

    For work that waits on the network or a bucket: one pool per kind of call
    bounds concurrency across all requests instead of per request.
    """
    with _lock:
        pool = _pools.get(name)
        if pool is None:
            pool = _pools[name] = ThreadPoolExecutor(threads, thread_name_prefix=name)
        return pool
