"""The KV seam the rings live in: get, compare-and-swap, watch (Mimir's kv.Client shape).

In one process the ring lives in ``InMemoryKV``; a cluster plugs in a shared
store (etcd, Consul, memberlist) implementing the same protocol. Values are
treated as immutable: ``cas`` callbacks receive a copy and return a new value.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["KV", "CASError", "InMemoryKV"]

log = logging.getLogger("tidewell.ring")

CASCallback = Callable[[Any | None], tuple[Any | None, bool]]
WatchCallback = Callable[[Any | None], None]


class CASError(Exception):
    """A compare-and-swap could not be applied after its retries."""


class KV(Protocol):
    async def get(self, key: str) -> Any | None:
        """Current value of ``key`` (a private copy), or None."""
        ...

    async def cas(self, key: str, f: CASCallback) -> None:
        """Atomically update ``key``: ``f(current copy)`` returns ``(new value, retry)``.

        Returning ``None`` as the new value leaves the key unchanged.
        """
        ...

    def watch_key(self, key: str, callback: WatchCallback) -> Callable[[], None]:
        """Call ``callback(value)`` after every change of ``key``; returns an unsubscribe."""
        ...


class InMemoryKV:
    """A KV for a single process: a dict behind a lock, watchers called synchronously."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, Any] = {}
        self._watchers: dict[str, list[WatchCallback]] = {}

    async def get(self, key: str) -> Any | None:
        return self.get_sync(key)

    def get_sync(self, key: str) -> Any | None:
        with self._lock:
            return copy.deepcopy(self._data.get(key))

    async def cas(self, key: str, f: CASCallback) -> None:
        self.cas_sync(key, f)
        await asyncio.sleep(0)

    def cas_sync(self, key: str, f: CASCallback) -> None:
        with self._lock:
            new, _retry = f(copy.deepcopy(self._data.get(key)))
            if new is None:
                return
            self._data[key] = copy.deepcopy(new)
            watchers = list(self._watchers.get(key, ()))
            snapshot = self._data[key]
        for cb in watchers:
            try:
                cb(copy.deepcopy(snapshot))
            except Exception:  # a broken watcher must not break writers
                log.exception("KV watcher failed for key %s", key)

    def watch_key(self, key: str, callback: WatchCallback) -> Callable[[], None]:
        with self._lock:
            self._watchers.setdefault(key, []).append(callback)

        def cancel() -> None:
            with self._lock:
                lst = self._watchers.get(key, [])
                if callback in lst:
                    lst.remove(callback)

        return cancel
