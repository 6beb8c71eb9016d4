"""The read seam: what ingesters, store-gateways and the querier each implement.

The PromQL engine and the HTTP API only ever see these two protocols, so they
never know whether data comes from a head in memory, blocks in a bucket, or a
remote process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tidewell.model.errors import TidewellError
from tidewell.model.matchers import Matcher
from tidewell.model.samples import Series

__all__ = ["Querier", "Queryable", "SelectHints", "SelectLimitError"]


@dataclass(frozen=True)
class SelectHints:
    """What one ``select`` may still fetch (0 = no limit), so sources stop early.

    ``max_bytes`` counts samples as the engine holds them decoded (16 bytes per
    float sample, ``promql.budget.series_bytes``); ``max_samples`` is the samples
    the query may still hold (the engine then evaluates the selection in shards of
    its series). A source checks them once it knows the matching series and their
    chunks, before decoding anything, and raises ``SelectLimitError``; the query's
    budget still checks the merged answer.
    """

    max_series: int = 0
    max_bytes: int = 0
    max_samples: int = 0

    @property
    def counts_samples(self) -> bool:
        """Whether the source should count the chunks' samples before decoding them."""
        return bool(self.max_bytes or self.max_samples)

    def check(self, series: int, samples: int = 0) -> None:
        """Raise ``SelectLimitError`` if ``series`` series or ``samples`` float samples
        (a lower bound: chunks wholly inside the range) exceed the hints."""
        if self.max_series and series > self.max_series:
            raise SelectLimitError("series", self.max_series)
        if self.max_bytes and 16 * samples > self.max_bytes:
            raise SelectLimitError("bytes", self.max_bytes)
        if self.max_samples and samples > self.max_samples:
            raise SelectLimitError("samples", self.max_samples, series, samples)


class SelectLimitError(TidewellError):
    """A source stopped a ``select`` that would pass ``SelectHints``; ``what`` is
    "series", "bytes" or "samples", ``limit`` the hint it passed. For "samples",
    ``series`` and ``samples`` say what the source found (samples: a lower bound)."""

    def __init__(self, what: str, limit: int, series: int = 0, samples: int = 0) -> None:
        self.what = what
        self.limit = limit
        self.series = series
        self.samples = samples
        super().__init__(f"select would fetch more than {limit} {what}")


class Querier(Protocol):
    """Reads one tenant's data within ``[mint, maxt]`` (milliseconds, inclusive)."""

    def select(self, matchers: Sequence[Matcher],
               hints: SelectHints | None = None) -> list[Series]:
        """Series whose labels match every matcher, with their samples in range.

        Series with no sample in range are omitted. Results are sorted by labels.
        A ``__query_shard__`` matcher selects a shard of the series (``model.shard``),
        never a label: the engine shards large range functions with it.
        With ``hints``, raises ``SelectLimitError`` as soon as the answer would pass them.
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
