"""Which sources a query asks, by its time range (Mimir's query-ingesters-within / store-after).

Ingesters hold the recent hours (2h blocks are shipped, and kept queryable
locally for ``-blocks-storage.tsdb.retention-period``, 13h), store-gateways
the blocks in object storage. Asking both for everything is always correct but
wasteful, so, as Mimir does:

* ingesters are skipped when the query ends before ``now - query_ingesters_within``;
* store-gateways are skipped when the query starts after ``now - query_store_after``,
  and otherwise asked only up to ``now - query_store_after`` (the end is clamped;
  the newest part is the ingesters' job).

A setting of 0 disables its rule (that source is always asked).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tidewell.model import Matcher, Querier, Queryable, SelectHints, Series
from tidewell.querier.merge import MergeQuerier

__all__ = ["Route", "TimeRoutedQueryable", "route"]


@dataclass(frozen=True)
class Route:
    """What one query asks: ingesters or not, and the store's range (None: not asked)."""

    ingesters: bool
    store: tuple[int, int] | None


def route(
    mint: int, maxt: int, now_ms: int, *, query_ingesters_within_s: float,
    query_store_after_s: float,
) -> Route:
    """The sources a query over ``[mint, maxt]`` (ms) asks at ``now_ms``."""
    ingesters = (query_ingesters_within_s == 0
                 or maxt >= now_ms - round(query_ingesters_within_s * 1000))
    store: tuple[int, int] | None = (mint, maxt)
    if query_store_after_s > 0:
        store_maxt = now_ms - round(query_store_after_s * 1000)
        store = (mint, min(maxt, store_maxt)) if mint <= store_maxt else None
    return Route(ingesters, store)


class _EmptyQuerier:
    """Neither source holds the range (cannot happen with validated settings)."""

    def select(self, matchers: Sequence[Matcher],
               hints: SelectHints | None = None) -> list[Series]:
        return []

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return []

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        return []


class TimeRoutedQueryable:
    """``Queryable`` over ingesters and the store, asking each only for what it holds."""

    def __init__(
        self,
        ingesters: Queryable,
        store: Queryable,
        *,
        query_ingesters_within_s: float,
        query_store_after_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ingesters = ingesters
        self.store = store
        self.query_ingesters_within_s = query_ingesters_within_s
        self.query_store_after_s = query_store_after_s
        self.clock = clock

    def route(self, mint: int, maxt: int) -> Route:
        return route(mint, maxt, int(self.clock() * 1000),
                     query_ingesters_within_s=self.query_ingesters_within_s,
                     query_store_after_s=self.query_store_after_s)

    def querier(self, tenant: str, mint: int, maxt: int) -> Querier:
        r = self.route(mint, maxt)
        queriers = []
        if r.ingesters:
            queriers.append(self.ingesters.querier(tenant, mint, maxt))
        if r.store is not None:
            queriers.append(self.store.querier(tenant, *r.store))
        return MergeQuerier(queriers) if queriers else _EmptyQuerier()
