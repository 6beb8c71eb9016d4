"""Ask one healthy replica of a partition, and the other when it fails.

With ingest storage every partition is consumed by one ingester per zone
(``ingester-zone-a-7`` and ``ingester-zone-b-7``) holding the same data, so a
read needs only one of them. ``ReplicaSetQueryable`` tries a healthy replica
first and falls back to the next on a server-side failure (connection refused,
timeout, 5xx); a 4xx would be the same everywhere and surfaces at once. A
replica that failed is tried last for ``cooldown_s``.

Candidates come from a callable, so the ring can supply the current owners.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from tidewell.model import Matcher, Querier, SelectHints, Series
from tidewell.querier import metrics
from tidewell.querier.remote import RemoteClients, RemoteQueryable, RemoteQueryError

__all__ = ["NoReplicaError", "ReplicaSetQuerier", "ReplicaSetQueryable"]

_log = logging.getLogger("tidewell.querier")
T = TypeVar("T")


class NoReplicaError(RemoteQueryError):
    """Every replica failed (or there were none); ``cause`` is the last failure."""


class ReplicaSetQueryable:
    """``Queryable`` over the replicas (base URLs) that own one partition.

    ``candidates`` returns the owners' URLs each time a querier is made (a list
    works too). ``factory`` builds the client of one URL; by default a
    ``RemoteQueryable`` with ``timeout_s`` and ``retries`` per replica.
    """

    def __init__(
        self,
        candidates: Callable[[], Sequence[str]] | Sequence[str],
        *,
        timeout_s: float = 30.0,
        retries: int = 0,
        cooldown_s: float = 10.0,
        factory: Callable[[str], RemoteQueryable] | None = None,
        shuffle: bool = True,
    ) -> None:
        self._candidates = candidates if callable(candidates) else (lambda: list(candidates))
        self._clients = RemoteClients(factory or (
            lambda url: RemoteQueryable(url, timeout_s=timeout_s, retries=retries)))
        self.cooldown_s = cooldown_s
        self.shuffle = shuffle
        self._failed_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def querier(self, tenant: str, mint: int, maxt: int) -> Querier:
        return ReplicaSetQuerier(self, tenant, mint, maxt)

    def ordered(self) -> list[str]:
        """Current candidates, healthy ones first (shuffled to spread load)."""
        urls = list(dict.fromkeys(self._candidates()))
        if self.shuffle:
            random.shuffle(urls)
        now = time.monotonic()
        with self._lock:
            failed = {u for u, t in self._failed_at.items() if now - t < self.cooldown_s}
        return [u for u in urls if u not in failed] + [u for u in urls if u in failed]

    def client(self, url: str) -> RemoteQueryable:
        return self._clients.get(url)

    def mark(self, url: str, ok: bool) -> None:
        with self._lock:
            if ok:
                self._failed_at.pop(url, None)
            else:
                self._failed_at[url] = time.monotonic()

    def run(self, fn: Callable[[RemoteQueryable], T]) -> T:
        """``fn`` on one replica after another until one answers."""
        urls = self.ordered()
        last: RemoteQueryError | None = None
        for i, url in enumerate(urls):
            try:
                out = fn(self.client(url))
            except RemoteQueryError as exc:
                if exc.is_client:
                    raise
                self.mark(url, ok=False)
                last = exc
                if i + 1 < len(urls):
                    metrics.REPLICA_FALLBACKS.inc()
                    _log.warning("replica %s failed, asking %s: %s", url, urls[i + 1], exc)
                continue
            self.mark(url, ok=True)
            return out
        where = ",".join(urls) or "(no replicas)"
        raise NoReplicaError(where, last if last is not None else "no replica owns the partition")

    def close(self) -> None:
        self._clients.close()


class ReplicaSetQuerier:
    def __init__(self, rs: ReplicaSetQueryable, tenant: str, mint: int, maxt: int) -> None:
        self.rs, self.tenant, self.mint, self.maxt = rs, tenant, mint, maxt

    def _q(self, c: RemoteQueryable) -> Querier:
        return c.querier(self.tenant, self.mint, self.maxt)

    def select(self, matchers: Sequence[Matcher],
               hints: SelectHints | None = None) -> list[Series]:
        return self.rs.run(lambda c: self._q(c).select(matchers, hints))

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return self.rs.run(lambda c: self._q(c).label_names(matchers))

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        return self.rs.run(lambda c: self._q(c).label_values(name, matchers))
