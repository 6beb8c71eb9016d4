"""A mapping whose entries expire after a fixed time and whose size is capped.

For caches keyed by something a request names (a tenant, an address): without a
cap, a client inventing keys grows them without end. Entries are kept in the
order they were stored, so expired ones are dropped from the front in O(1) per
entry, and once ``max_entries`` is reached the oldest goes first.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["ExpiringCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
D = TypeVar("D")


class ExpiringCache(Generic[K, V]):
    """``key → value`` for ``ttl_s`` seconds after it was stored, at most ``max_entries``.

    Thread-safe: queries read it from worker threads.
    """

    def __init__(self, ttl_s: float, max_entries: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def get(self, key: K, default: D) -> V | D:
        """The value stored under ``key`` less than ``ttl_s`` ago, else ``default``."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or self._clock() - entry[0] >= self.ttl_s:
            return default
        return entry[1]

    def put(self, key: K, value: V) -> None:
        """Store ``value``; drops expired entries and, past the cap, the oldest ones."""
        now = self._clock()
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = (now, value)
            while self._entries:
                stamp, _ = next(iter(self._entries.values()))
                if now - stamp < self.ttl_s and len(self._entries) <= self.max_entries:
                    break
                self._entries.popitem(last=False)
