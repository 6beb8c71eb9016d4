"""The read seam: what ingesters, store-gateways and the querier each implement.

The PromQL engine and the HTTP API only ever see these two protocols, so they
never know whether data comes from a head in memory, blocks in a bucket, or a
remote process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tidewell.model.matchers import Matcher
from tidewell.model.samples import Series


class Querier(Protocol):
    """Reads one tenant's data within ``[mint, maxt]`` (milliseconds, inclusive)."""

    def select(self, matchers: Sequence[Matcher]) -> list[Series]:
        """Series whose labels match every matcher, with their samples in range.

        Series with no sample in range are omitted. Results are sorted by labels.
        """
        ...

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        """Sorted label names of series in range (matching ``matchers`` if given)."""
        ...

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        """Sorted distinct values of ``name`` over series in range."""
        ...


class Queryable(Protocol):
    """Hands out queriers bound to a tenant and a time range."""

    def querier(self, tenant: str, mint: int, maxt: int) -> Querier: ...
