"""The query engine: parse, evaluate over all steps at once, shape the result.

Design (after Prometheus's engine and Mimir's streaming engine, adapted to
NumPy): every node evaluates once for the whole query range. An instant
vector is a ``Block`` (series x steps values plus presence mask); a range
vector is a ``RangeData`` (raw samples plus per-step windows) consumed by a
Numba kernel; a scalar is one array of steps. An instant query is a range
query with a single step. Subqueries evaluate their inner expression as a
range query on their own aligned step grid and feed its points to the outer
function as if they were raw samples.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from tidewell.model import Histogram, Labels, Queryable
from tidewell.promql import aggregations, kernels, kernels_st
from tidewell.promql import nodes as ast
from tidewell.promql.budget import QueryBudget
from tidewell.promql.context import EngineOptions, QueryContext
from tidewell.promql.errors import BadDataError, ExecutionError
from tidewell.promql.evaluator import Evaluator
from tidewell.promql.extended import extend_floats
from tidewell.promql.nhist import stats_selectors, to_model
from tidewell.promql.parser import parse_shared
from tidewell.promql.stats import QueryStats, SampleStats
from tidewell.promql.values import NAME_LABELS, Block, RangeData, Scalar, String, hist_mask

__all__ = ["Engine", "EngineOptions", "QueryResult", "RangeSeries"]


@dataclass
class RangeSeries:
    """One result series: float points (``ts``, ``vals``) and native histogram points
    (``hts``, ``hists``), each sorted by time."""

    labels: Labels
    ts: np.ndarray  # int64 ms
    vals: np.ndarray
    hts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    hists: list[Histogram] = field(default_factory=list)


@dataclass
class QueryResult:
    """``kind`` is "vector", "matrix", "scalar" or "string" (Prometheus's resultType)."""

    kind: str
    series: list[RangeSeries] = field(default_factory=list)
    scalar: tuple[int, float] | None = None
    string: tuple[int, str] | None = None
    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)
    stats: QueryStats | None = None
    """Set when asked for (``stats``): Prometheus's timings and sample counts."""


class Engine:
    """Evaluates PromQL against any ``Queryable``. Thread-safe; one per process is enough."""

    def __init__(self, opts: EngineOptions | None = None) -> None:
        self.opts = opts or EngineOptions()

    def warm_up(self, background: bool = True) -> None:
        """Load the compiled kernels now (a second or two), in a thread by default."""
        if background:
            threading.Thread(target=_warm_up, name="promql-warm-up", daemon=True).start()
        else:
            _warm_up()

    def instant_query(self, queryable: Queryable, tenant: str, query: str, t_ms: int,
                      cancel: threading.Event | None = None, stats: str = "") -> QueryResult:
        """``stats``: the API's ``stats`` parameter; non-empty gathers ``QueryResult.stats``,
        ``"all"`` with samples per step."""
        return self._run(queryable, tenant, query, t_ms, t_ms, 0, cancel, instant=True,
                         stats=stats)

    def range_query(self, queryable: Queryable, tenant: str, query: str, start_ms: int,
                    end_ms: int, step_ms: int,
                    cancel: threading.Event | None = None, stats: str = "") -> QueryResult:
        return self._run(queryable, tenant, query, start_ms, end_ms, step_ms, cancel,
                         instant=False, stats=stats)

    def _run(self, queryable: Queryable, tenant: str, query: str, start: int, end: int,
             step: int, cancel: threading.Event | None, instant: bool,
             stats: str = "") -> QueryResult:
        qs = QueryStats() if stats else None
        expr = parse_shared(query)
        if not instant and expr.type() not in (ast.SCALAR, ast.VECTOR):
            raise ExecutionError("invalid expression type "
                                 f'"{expr.type()}" for range query, must be Scalar or '
                                 "instant Vector")
        budget = QueryBudget(self.opts.limits(), time.monotonic() + self.opts.timeout_s, cancel)
        ctx = QueryContext(self.opts, queryable, tenant, query, start, end, step, budget)
        ctx.stats_selectors = stats_selectors(expr)

        n_steps = 1 if instant else (end - start) // step + 1
        budget.check_steps(n_steps)
        times = start + np.arange(n_steps, dtype=np.int64) * max(step, 1)
        ev = Evaluator(ctx, times, step if step else 0)
        if qs is not None:
            ctx.sample_stats = qs.samples = SampleStats(times, per_step=stats == "all")
            prepared = time.perf_counter()
        try:
            val = ev.eval(expr)
        except RecursionError:
            raise BadDataError("query is too deeply nested to evaluate") from None
        budget.check()
        if qs is not None:
            evaluated = time.perf_counter()
        res = _shape(ctx, ev, expr, val, times, instant)
        res.warnings = list(ctx.ann.warnings)
        res.infos = list(ctx.ann.infos)
        if qs is not None:
            done = time.perf_counter()
            qs.timings.update(queryPreparationTime=prepared - qs.started,
                              innerEvalTime=evaluated - prepared,
                              resultSortTime=done - evaluated,
                              evalTotalTime=done - prepared, execTotalTime=done - qs.started)
            qs.peak_samples = budget.samples_peak
            res.stats = qs
        return res


def _warm_up() -> None:
    """Load (or compile) every kernel once, so the first real query does not pay for it."""
    kernels.warm_up()
    aggregations.warm_up()
    kernels_st.warm_up()


def _final_labels(b: Block) -> list[Labels]:
    return [lb.without(*NAME_LABELS) if d else lb for lb, d in zip(b.labels, b.drop_name,
                                                                   strict=True)]


def _shape(ctx: QueryContext, ev: object, expr: ast.Expr, val: object, times: np.ndarray,
           instant: bool) -> QueryResult:
    t0 = int(times[0])
    if isinstance(val, String):
        return QueryResult("string", string=(t0, val.value))
    if isinstance(val, Scalar):
        if instant:
            return QueryResult("scalar", scalar=(t0, float(val.values[0])))
        return QueryResult("matrix", series=[RangeSeries(Labels(), times.copy(),
                                                         val.values.copy())])
    if isinstance(val, RangeData):
        out = []
        for i, lb in enumerate(val.labels):
            a, b = int(val.lo[i, 0]), int(val.hi[i, 0])
            ts, vs = val.ts[a:b], val.vals[a:b]
            if val.anchored or val.smoothed:
                end = int(val.tt[0])
                ts, vs = extend_floats(ts, vs, end - val.rng, end, val.smoothed)
            hts, hvs = np.zeros(0, dtype=np.int64), []
            if val.hist is not None:
                assert val.hlo is not None and val.hhi is not None
                ha, hb = int(val.hlo[i, 0]), int(val.hhi[i, 0])
                hts = val.hist[i][0][ha:hb]
                hvs = [to_model(h) for h in val.hist[i][1][ha:hb]]
            if len(ts) or len(hts):
                lb2 = lb.without(*NAME_LABELS) if val.drop_name and val.drop_name[i] else lb
                out.append(RangeSeries(lb2, ts.copy(), vs.copy(), hts.copy(), hvs))
        out.sort(key=lambda s: s.labels)
        return QueryResult("matrix", series=out)
    assert isinstance(val, Block)
    labels = _final_labels(val)
    # Series that became identical once __name__ was dropped may not collide in time.
    seen: dict[Labels, int] = {}
    for i, lb in enumerate(labels):
        j = seen.get(lb)
        if j is not None:
            if (val.present[i] & val.present[j]).any():
                raise ExecutionError("vector cannot contain metrics with the same labelset")
        else:
            seen[lb] = i
    hm = val.hist_mask()
    if instant:
        out = []
        for i, lb in enumerate(labels):
            if not val.present[i, 0]:
                continue
            if hm is not None and hm[i, 0]:
                out.append(RangeSeries(lb, times[:0].copy(), np.zeros(0), times[:1].copy(),
                                       [to_model(val.hist[i, 0])]))
            else:
                out.append(RangeSeries(lb, times[:1].copy(), val.values[i, :1].copy()))
        return QueryResult("vector", series=out)
    merged: dict[Labels, list[int]] = {}
    for i, lb in enumerate(labels):
        merged.setdefault(lb, []).append(i)
    out = []
    for lb, rows in merged.items():
        if len(rows) == 1:
            m = val.present[rows[0]]
            v = val.values[rows[0]]
        else:
            m = val.present[rows].any(axis=0)
            v = np.zeros(len(times))
            for r in rows:
                v = np.where(val.present[r], val.values[r], v)
        if hm is not None:
            hrow = np.full(len(times), None, dtype=object)
            for r in rows:
                hrow = np.where(hm[r] & val.present[r], val.hist[r], hrow)
            hmask = hist_mask(hrow)
            fm = m & ~hmask
            if m.any():
                out.append(RangeSeries(lb, times[fm].copy(), v[fm].copy(), times[hmask].copy(),
                                       [to_model(h) for h in hrow[hmask]]))
            continue
        if m.any():
            out.append(RangeSeries(lb, times[m].copy(), v[m].copy()))
    out.sort(key=lambda s: s.labels)
    return QueryResult("matrix", series=out)
