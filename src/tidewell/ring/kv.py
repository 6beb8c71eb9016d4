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
from typing import Any, Generic, Protocol, TypeVar

from tidewell.model.errors import TidewellError

__all__ = ["KV", "CASError", "InMemoryKV", "KeyWatcher", "PrefixedKV", "update_value"]

V = TypeVar("V")
D = TypeVar("D")

log = logging.getLogger("tidewell.ring")

CASCallback = Callable[[Any | None], tuple[Any | None, bool]]
WatchCallback = Callable[[Any | None], None]


_MISSING = object()


class CASError(TidewellError):
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

    def stored_keys(self) -> list[str]:
        """Every key stored, sorted (what a prefixed view really wrote)."""
        with self._lock:
            return sorted(self._data)

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


class KeyWatcher(Generic[V]):
    """The latest view built (by ``make``) from one KV key, rebuilt on every change.

    Rings are read far more often than they change, so readers take the
    prebuilt view instead of decoding the KV value on every call.
    """

    def __init__(self, kv: KV, key: str, make: Callable[[Any | None], V]) -> None:
        self.kv = kv
        self.key = key
        self._make = make
        self._view = make(None)
        self._cancel: Callable[[], None] | None = None
        self._listeners: list[Callable[[V], None]] = []

    async def start(self) -> None:
        self._update(await self.kv.get(self.key))
        self._cancel = self.kv.watch_key(self.key, self._update)

    def stop(self) -> None:
        if self._cancel is not None:
            self._cancel()
            self._cancel = None

    def on_change(self, listener: Callable[[V], None]) -> None:
        self._listeners.append(listener)

    def current(self) -> V:
        return self._view

    def _update(self, value: Any | None) -> None:
        self._view = self._make(value)
        for cb in self._listeners:
            cb(self._view)


async def update_value(kv: KV, key: str, empty: Callable[[], D], f: Callable[[D], bool]) -> D:
    """Apply ``f`` to the value of ``key`` (``empty()`` when absent) with compare-and-swap.

    ``f`` mutates the copy it is given and says whether it changed anything;
    returns the value as ``f`` left it.
    """
    out: list[D] = []

    def apply(old: D | None) -> tuple[D | None, bool]:
        value = old if old is not None else empty()
        changed = f(value)
        out.append(value)
        return (value if changed else None), True

    await kv.cas(key, apply)
    return out[-1]
