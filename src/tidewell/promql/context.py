"""What every evaluation step shares: engine options, the query context, series selection.

The bottom of the engine's modules: the evaluator, functions and extensions
import it; it imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tidewell.model import Matcher, Queryable, SelectLimitError, Series
from tidewell.model.samples import stale_mask
from tidewell.model.shard import ShardSelector
from tidewell.promql import nodes as ast
from tidewell.promql.budget import QueryBudget, QueryLimits
from tidewell.promql.errors import Annotations
from tidewell.promql.stats import SampleStats

__all__ = [
    "EngineOptions",
    "QueryContext",
    "drop_stale",
    "drop_stale_st",
    "sample_count",
    "select_series",
]


@dataclass
class EngineOptions:
    lookback_delta_ms: int = 5 * 60 * 1000
    max_samples: int = 50_000_000
    timeout_s: float = 120.0
    max_fetched_series: int = 0
    default_subquery_step_ms: int = 60_000
    max_fetched_chunk_bytes: int = 0
    max_memory_bytes: int = 0
    max_query_length_ms: int = 0
    delayed_name_removal: bool = False
    """Prometheus's ``enable_delayed_name_removal`` (off by default, as there): when off, a
    node that drops ``__name__`` drops it at once and series it makes identical fail the
    query ("vector cannot contain metrics with the same labelset")."""

    def limits(self) -> QueryLimits:
        return QueryLimits(max_samples=self.max_samples,
                           max_fetched_series=self.max_fetched_series,
                           max_fetched_chunk_bytes=self.max_fetched_chunk_bytes,
                           max_memory_bytes=self.max_memory_bytes,
                           max_query_length_ms=self.max_query_length_ms)



class QueryContext:
    """One query's evaluation state: what to read, its budget, its annotations."""

    def __init__(self, opts: EngineOptions, queryable: Queryable, tenant: str, query: str,
                 start: int, end: int, step: int, budget: QueryBudget) -> None:
        self.opts = opts
        self.queryable = queryable
        self.tenant = tenant
        self.query = query
        self.qstart, self.qend, self.qstep = start, end, step
        self.budget = budget
        self.ann = Annotations()
        self.stats_selectors: set[int] = set()
        self.sample_stats: SampleStats | None = None
        """Set when the query's statistics were asked for (``stats=``)."""

    def check(self) -> None:
        self.budget.check()

    def pos(self, node: ast.Expr) -> str:
        before = self.query[: node.pos]
        line = before.count("\n") + 1
        col = node.pos - (before.rfind("\n") + 1) + 1
        return f" ({line}:{col})"

    def warn(self, msg: str, node: ast.Expr) -> None:
        self.ann.warn(msg + self.pos(node))

    def info(self, msg: str, node: ast.Expr) -> None:
        self.ann.info(msg + self.pos(node))

    def add_samples(self, n: int) -> None:
        self.budget.add_samples(n)



def select_series(ctx: QueryContext, matchers: list[Matcher], mint: int, maxt: int,
                  shard: ShardSelector | None = None, max_samples: int = 0) -> list[Series]:
    """Fetch series through the ``Queryable`` seam, counting them against the query's
    length, series, chunk-bytes and memory limits as each selector's answer arrives.

    ``shard``: only that shard's series (asked with ``__query_shard__``, and kept here
    too, so a source that ignores the matcher still gives a partition). ``max_samples``:
    raise ``SelectLimitError("samples")`` rather than hold more samples than that, from
    the source before decoding or here once a merged answer shows it (the caller then
    selects in smaller shards); nothing is counted against the budget then.
    """
    ctx.check()
    ctx.budget.check_range(mint, maxt)
    q = ctx.queryable.querier(ctx.tenant, mint, maxt)
    if shard is not None and shard.count > 1:
        matchers = [*matchers, shard.matcher()]
    try:
        series = q.select(matchers, ctx.budget.select_hints(max_samples))
    except SelectLimitError as exc:
        if exc.what == "samples":
            raise
        ctx.budget.refuse(exc)
    if shard is not None and shard.count > 1:
        series = [s for s, keep in zip(series, shard.keep(s.labels for s in series),
                                       strict=True) if keep]
    if max_samples:
        held = sum(sample_count(s) for s in series)
        if held > max_samples:
            raise SelectLimitError("samples", max_samples, len(series), held)
    ctx.check()
    ctx.budget.add_fetched(series)
    return series


def sample_count(s: Series) -> int:
    """Float and histogram samples of one fetched series."""
    return len(s.timestamps) + (0 if s.histograms is None else len(s.histograms))


def drop_stale(s: Series) -> tuple[np.ndarray, np.ndarray]:
    m = stale_mask(s.values)
    if m.any():
        keep = ~m
        return s.timestamps[keep], s.values[keep]
    return s.timestamps, s.values


def drop_stale_st(s: Series) -> np.ndarray | None:
    """The start timestamps matching ``drop_stale(s)``'s samples (None if the series has none)."""
    st = s.start_timestamps
    if st is None:
        return None
    m = stale_mask(s.values)
    return st[~m] if m.any() else st

