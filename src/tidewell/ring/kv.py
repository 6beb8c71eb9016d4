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

__all__ = ["KV", "CASError", "InMemoryKV", "PrefixedKV"]

log = logging.getLogger("tidewell.ring")

CASCallback = Callable[[Any | None], tuple[Any | None, bool]]
WatchCallback = Callable[[Any | None], None]


_MISSING = object()


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
        """Call ``callback(value)`` after every change of ``key``; returns an unsubscribe.

        ``value`` is None when the key was deleted. Backends over a network may
        coalesce changes and deliver only the latest value, never an older one.
        """
        ...

    async def delete(self, key: str) -> None:
        """Remove ``key``; watchers see None."""
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

    async def delete(self, key: str) -> None:
        with self._lock:
            existed = self._data.pop(key, _MISSING) is not _MISSING
            watchers = list(self._watchers.get(key, ())) if existed else []
        for cb in watchers:
            try:
                cb(None)
            except Exception:
                log.exception("KV watcher failed for key %s", key)
        await asyncio.sleep(0)

    def watch_key(self, key: str, callback: WatchCallback) -> Callable[[], None]:
        with self._lock:
            self._watchers.setdefault(key, []).append(callback)

        def cancel() -> None:
            with self._lock:
                lst = self._watchers.get(key, [])
                if callback in lst:
                    lst.remove(callback)

        return cancel


class PrefixedKV:
    """Puts every key of an underlying KV under ``prefix`` (Mimir's ``-<ring>.prefix``)."""

    def __init__(self, kv: KV, prefix: str) -> None:
        self.kv = kv
        self.prefix = prefix

    async def get(self, key: str) -> Any | None:
        return await self.kv.get(self.prefix + key)

    async def cas(self, key: str, f: CASCallback) -> None:
        await self.kv.cas(self.prefix + key, f)

    def watch_key(self, key: str, callback: WatchCallback) -> Callable[[], None]:
        return self.kv.watch_key(self.prefix + key, callback)

    async def delete(self, key: str) -> None:
        await self.kv.delete(self.prefix + key)

    async def close(self) -> None:
        close = getattr(self.kv, "close", None)
        if close is not None:
            await close()
