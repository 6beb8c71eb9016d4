"""Query worker threads: bounded concurrency off the event loop, with deep stacks.

Why not anyio's shared thread pool: it runs 40 threads for everything, so 40 heavy
queries would fight for two cores and for the GIL beside pushes and ``/ready``.
Here ``-querier.max-concurrent`` threads evaluate queries and the rest wait in line
without holding memory. Each thread gets a large stack (reserved, touched only as
used) and the interpreter a higher recursion limit, so expressions Prometheus accepts
(hundreds of nested parentheses or chained operators) parse and evaluate.
"""

from __future__ import annotations

import asyncio
import queue
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

__all__ = ["QueryWorkers"]

T = TypeVar("T")

STACK_BYTES = 512 * 1024 * 1024
"""Stack reserved per worker thread (virtual memory; pages are touched only as used)."""

RECURSION_LIMIT = 30_000
"""Python frames allowed per thread: about 6,000 nested parentheses at 5 frames each."""


class QueryWorkers:
    """``size`` threads running submitted calls in order of arrival."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue())
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def _start(self) -> None:
        with self._lock:
            if self._threads:
                return
            sys.setrecursionlimit(max(sys.getrecursionlimit(), RECURSION_LIMIT))
            old = threading.stack_size(STACK_BYTES)
            try:
                for i in range(self.size):
                    t = threading.Thread(target=self._work, name=f"query-worker-{i}",
                                         daemon=True)
                    t.start()
                    self._threads.append(t)
            finally:
                threading.stack_size(old)

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fut, fn = job
            if not fut.set_running_or_notify_cancel():
                continue  # the caller went away while the job waited
            try:
                fut.set_result(fn())
            except BaseException as e:
                fut.set_exception(e)

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Queue ``fn``; its future completes when a worker has run it."""
        self._start()
        fut: Future[T] = Future()
        self._jobs.put((fut, fn))
        return fut

    async def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on a worker and await it; cancelling drops it if it has not started."""
        return await asyncio.wrap_future(self.submit(fn))

    def close(self) -> None:
        """Let the workers end after the jobs already queued."""
        with self._lock:
            for _ in self._threads:
                self._jobs.put(None)
            self._threads.clear()
