"""The results cache's storage: one small async interface and the in-memory LRU backend.

Backends store opaque bytes under short ASCII keys (the results cache hashes
its keys), so any key-value server fits behind it; :mod:`.memcached` is the
shared one. A backend that fails must not fail the query: ``get`` answers
``None`` and ``set`` gives up, both after counting the error.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Protocol

__all__ = ["Cache", "InMemoryCache"]


class Cache(Protocol):
    name: str

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        """Store ``value``; ``ttl`` seconds, 0 = no expiry."""
        ...

    async def close(self) -> None: ...


class InMemoryCache:
    """Evicts least-recently-used entries once keys and values pass ``max_bytes``."""

    name = "inmemory"

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._bytes = 0
        self._now = time.monotonic

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, expires = entry
        if expires and expires <= self._now():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        size = len(key) + len(value)
        if key in self._entries:
            self._drop(key)
        if size > self.max_bytes:
            return
        self._entries[key] = (value, self._now() + ttl if ttl > 0 else 0.0)
        self._bytes += size
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        value, _ = self._entries.pop(key)
        self._bytes -= len(key) + len(value)

    async def close(self) -> None:
        self._entries.clear()
        self._bytes = 0
