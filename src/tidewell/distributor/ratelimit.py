"""Per-tenant token buckets for ``ingestion_rate`` / ``ingestion_burst_size``.

Like Mimir's local rate limiter (one distributor): a request is admitted only
if the bucket holds tokens for all its samples; otherwise nothing is taken.
An infinite rate admits everything, burst or not (Go's ``rate.Inf``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

__all__ = ["RateLimiter"]


class _Bucket:
    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.updated = now


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()
        """Pushes are prepared on worker threads (``Distributor.push``)."""

    def allow(self, tenant: str, n: int, rate: float, burst: int) -> bool:
        """Take ``n`` tokens for ``tenant`` if available; limits may change between calls."""
        if rate == math.inf:
            return True
        with self._lock:
            return self._take(tenant, n, rate, burst)

    def _take(self, tenant: str, n: int, rate: float, burst: int) -> bool:
        now = self._clock()
        b = self._buckets.get(tenant)
        if b is None:
            b = self._buckets[tenant] = _Bucket(rate, burst, now)
        elif b.rate != rate or b.burst != burst:
            b.rate, b.burst = rate, burst
            b.tokens = min(b.tokens, float(burst))
        b.tokens = min(float(b.burst), b.tokens + (now - b.updated) * b.rate)
        b.updated = now
        if n <= b.tokens:
            b.tokens -= n
            return True
        return False
