"""One query's limits, counted as its data is produced so a query stops before it spends.

Why here and not after evaluation: the engine holds whole ``series x steps`` arrays, so a
limit checked on a finished node has already paid for it. Every producer asks the budget
*before* allocating (``reserve``) and counts samples row by row (``add_samples``), so the
first row past a limit ends the query. The memory estimate follows Mimir's query engine:
bytes of values held right now (inputs of the node being computed plus results not yet
consumed); a finished node's inputs are released when it returns (``settle``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import NoReturn

import numpy as np

from tidewell.model import SelectHints, SelectLimitError, Series
from tidewell.promql.errors import (
    QueryCanceledError,
    QueryLimitError,
    QueryTimeoutError,
    TooManySamplesError,
)
from tidewell.util.config_fields import format_duration
from tidewell.util.priority import WRITES

__all__ = ["CELL_BYTES", "QueryBudget", "QueryLimits", "series_bytes", "value_bytes"]

CELL_BYTES = 9
"""One step of one series in an instant vector: a float64 value and a presence flag."""

_HIST_BYTES = 96
"""Estimate for one native histogram sample beyond its buckets (object, spans, fields)."""


@dataclass(frozen=True)
class QueryLimits:
    """Limits of one query; 0 disables a limit (except ``max_samples``)."""

    max_samples: int = 50_000_000
    max_fetched_series: int = 0
    max_fetched_chunk_bytes: int = 0
    max_memory_bytes: int = 0
    max_query_length_ms: int = 0


def series_bytes(s: Series) -> int:
    """Bytes of one fetched series' samples as held decoded (our stand-in for chunk bytes)."""
    n = s.timestamps.nbytes + s.values.nbytes
    if s.start_timestamps is not None:
        n += s.start_timestamps.nbytes
    if s.histograms is not None:
        n += s.histograms.timestamps.nbytes
        for h in s.histograms.values:
            n += _HIST_BYTES + 8 * (len(h.positive_buckets) + len(h.negative_buckets))
    return n


class QueryBudget:
    """Counters of one query against its ``QueryLimits``, its deadline and cancel event."""

    def __init__(self, limits: QueryLimits, deadline: float,
                 cancel: threading.Event | None = None) -> None:
        self.limits = limits
        self.deadline = deadline
        self.cancel = cancel
        self.samples_peak = 0
        self.fetched_series = 0
        self.fetched_bytes = 0
        self.memory = 0
        self.memory_peak = 0

    def check(self) -> None:
        """Step aside while a push is in flight (``WRITES``, up to a cap and never past
        the deadline), then stop here if the query was canceled or ran past its deadline."""
        if WRITES.writes:
            WRITES.checkpoint(self.deadline)
        if self.cancel is not None and self.cancel.is_set():
            raise QueryCanceledError()
        if time.monotonic() > self.deadline:
            raise QueryTimeoutError()

    def add_samples(self, n: int) -> None:
        """``n`` samples are held by the node being computed (Prometheus's max-samples)."""
        self.samples_peak = max(self.samples_peak, n)
        if n > self.limits.max_samples:
            raise TooManySamplesError()

    def check_steps(self, steps: int) -> None:
        """A step grid of ``steps`` points is about to be built (a subquery's inner range).

        Every non-empty inner result holds at least one sample per step, and the grid
        itself is allocated per step, so a grid longer than max-samples is refused up front.
        """
        self.add_samples(steps)
        self.reserve(8 * steps)

    def reserve(self, nbytes: int) -> None:
        """Account ``nbytes`` about to be allocated; refuse before allocating past the limit."""
        self._hold(self.memory + nbytes)

    def settle(self, before: int, result_bytes: int) -> None:
        """A node finished: its inputs are free, only its result stays held.

        Nodes that allocate without ``reserve`` (binary operators, aggregations) are caught
        here, once their result exists, before any parent builds on it."""
        self._hold(before + result_bytes)

    def _hold(self, nbytes: int) -> None:
        limit = self.limits.max_memory_bytes
        if limit and nbytes > limit:
            raise QueryLimitError(
                "the query exceeded the maximum allowed estimated amount of memory consumed "
                f"by a single query (limit: {limit} bytes)",
                "max-estimated-memory-consumption-per-query",
                "querier.max-estimated-memory-consumption-per-query",
                "Consider reducing the time range and/or number of series selected by the "
                "query")
        self.memory = nbytes
        self.memory_peak = max(self.memory_peak, nbytes)

    def check_range(self, mint: int, maxt: int) -> None:
        """Mimir's per-select query length limit (``-querier.max-partial-query-length``)."""
        limit = self.limits.max_query_length_ms
        if limit and maxt - mint + 1 > limit:
            raise QueryLimitError(
                f"the query time range exceeds the limit (query length: "
                f"{format_duration((maxt - mint + 1) / 1000)}, "
                f"limit: {format_duration(limit / 1000)})",
                "max-query-length", "querier.max-partial-query-length")

    def select_hints(self, max_samples: int = 0) -> SelectHints:
        """What the next selector may still fetch, handed to the sources so they stop early
        (``max_samples``: what a selector evaluated in shards may hold, 0 = no such hint)."""
        lim, blim = self.limits.max_fetched_series, self.limits.max_fetched_chunk_bytes
        return SelectHints(max_series=max(1, lim - self.fetched_series) if lim else 0,
                           max_bytes=max(1, blim - self.fetched_bytes) if blim else 0,
                           max_samples=max_samples)

    def refuse(self, exc: SelectLimitError) -> NoReturn:
        """A source stopped a select at ``select_hints``: the query fails with its limit."""
        if exc.what == "series":
            self._too_many_series()
        self._too_many_bytes()

    def _too_many_series(self) -> NoReturn:
        lim = self.limits.max_fetched_series
        raise QueryLimitError(
            f"the query exceeded the maximum number of series (limit: {lim} series)",
            "max-series-per-query", "querier.max-fetched-series-per-query",
            QueryLimitError.STRATEGY)

    def _too_many_bytes(self) -> NoReturn:
        blim = self.limits.max_fetched_chunk_bytes
        raise QueryLimitError(
            f"the query exceeded the aggregated chunks size limit (limit: {blim} bytes)",
            "max-chunks-bytes-per-query", "querier.max-fetched-chunk-bytes-per-query",
            QueryLimitError.STRATEGY)

    def add_fetched(self, series: list[Series]) -> None:
        """Count series and their bytes as one selector's fetch arrives."""
        self.fetched_series += len(series)
        lim = self.limits.max_fetched_series
        if lim and self.fetched_series > lim:
            self._too_many_series()
        nbytes = 0
        blim = self.limits.max_fetched_chunk_bytes
        for s in series:
            nbytes += series_bytes(s)
            if blim and self.fetched_bytes + nbytes > blim:
                self._too_many_bytes()
        self.fetched_bytes += nbytes
        self.reserve(nbytes)


def value_bytes(v: object) -> int:
    """Bytes held by an evaluator value (Block, RangeData, Scalar), for ``settle``."""
    total = 0
    for name in ("values", "present", "ts", "vals", "lo", "hi", "hlo", "hhi", "hist"):
        a = getattr(v, name, None)
        if isinstance(a, np.ndarray):
            total += a.nbytes
    return total
