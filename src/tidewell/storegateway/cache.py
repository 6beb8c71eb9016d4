"""A least-recently-used cache bounded by the bytes of what it holds.

Used for index items (postings, expanded postings, series entries) and for
pages of chunk segment files. Callers give each value's size; the cache evicts
the oldest entries until the total fits. Keys are tuples whose first element
is the item type, so counts and sizes are kept per type for metrics.
Thread-safe: queries run in worker threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from tidewell.storegateway import metrics as m

__all__ = ["ByteLRU", "IndexCache"]

Key = tuple[Any, ...]


class ByteLRU:
    """Maps keys to values while ``sum(size) <= max_bytes``; 0 bytes disables it."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Key, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.size_bytes = 0
        self.hits = 0
        self.misses = 0
        self.evicted: dict[Any, int] = {}
        self.type_count: dict[Any, int] = {}
        self.type_size: dict[Any, int] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Key) -> bool:
        return key in self._items

    def get(self, key: Key) -> Any | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[0]

    def _remove(self, key: Key) -> None:
        _, size = self._items.pop(key)
        self.size_bytes -= size
        self.type_count[key[0]] -= 1
        self.type_size[key[0]] -= size

    def put(self, key: Key, value: Any, size: int) -> int:
        """Store ``value`` of ``size`` bytes, evicting the least recently used entries;
        the number evicted."""
        if size > self.max_bytes:
            return 0  # never fits (or the cache is disabled)
        evicted = 0
        with self._lock:
            if key in self._items:
                self._remove(key)
            self._items[key] = (value, size)
            self.size_bytes += size
            self.type_count[key[0]] = self.type_count.get(key[0], 0) + 1
            self.type_size[key[0]] = self.type_size.get(key[0], 0) + size
            while self.size_bytes > self.max_bytes:
                old = next(iter(self._items))
                self._remove(old)
                self.evicted[old[0]] = self.evicted.get(old[0], 0) + 1
                evicted += 1
        return evicted

    def per_type(self) -> tuple[dict[Any, int], dict[Any, int], dict[Any, int]]:
        """Copies of the entries, bytes and evictions per item type, taken together:
        another thread may add a type while metrics read them."""
        with self._lock:
            return dict(self.type_count), dict(self.type_size), dict(self.evicted)

    def discard_where(self, predicate: Callable[[Key], bool]) -> int:
        """Drop every entry whose key satisfies ``predicate`` (e.g. a dropped block's)."""
        with self._lock:
            doomed = [k for k in self._items if predicate(k)]
            for k in doomed:
                self._remove(k)
        return len(doomed)


class IndexCache:
    """The index cache: one byte budget for all item types, with Thanos's metrics.

    Item types are ``Postings``, ``ExpandedPostings`` and ``Series`` as in Thanos;
    keys are ``(item_type, block_id, key)``.
    """

    def __init__(self, max_bytes: int) -> None:
        self.lru = ByteLRU(max_bytes)
        self._evicted_published: dict[Any, int] = {}
        self._publishing = threading.Lock()

    def get(self, item_type: str, block_id: str, key: Any) -> Any | None:
        m.CACHE_REQUESTS.labels(item_type).inc()
        value = self.lru.get((item_type, block_id, key))
        if value is not None:
            m.CACHE_HITS.labels(item_type).inc()
        return value

    def count(self, item_type: str, requests: int, hits: int) -> None:
        """Record lookups made directly on ``lru`` (hot loops skip per-item metrics)."""
        m.CACHE_REQUESTS.labels(item_type).inc(requests)
        m.CACHE_HITS.labels(item_type).inc(hits)
        self._publish()

    def put(
        self, item_type: str, block_id: str, key: Any, value: Any, size: int,
        *, publish: bool = True,
    ) -> None:
        if self.lru.put((item_type, block_id, key), value, size):
            self._publish_evictions()
        if publish:
            self._publish()

    def _publish_evictions(self) -> None:
        with self._publishing:
            for t, n in self.lru.per_type()[2].items():
                m.CACHE_EVICTED.labels(t).inc(n - self._evicted_published.get(t, 0))
                self._evicted_published[t] = n

    def drop_block(self, block_id: str) -> None:
        self.lru.discard_where(lambda k: k[1] == block_id)
        self._publish()

    def _publish(self) -> None:
        count, size, _ = self.lru.per_type()
        for t, n in count.items():
            m.CACHE_ITEMS.labels(t).set(n)
            m.CACHE_ITEMS_SIZE.labels(t).set(size[t])
