"""Evaluates one syntax tree over a fixed grid of step times.

Selectors read the ``Queryable`` once per node for the whole range and turn
samples into a ``Block`` with one ``searchsorted`` per series; everything
after that is array arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tidewell.model import Labels, Matcher, SelectLimitError
from tidewell.model.samples import STALE_NAN_BITS, stale_mask
from tidewell.model.shard import ShardSelector, split_shard
from tidewell.promql import nodes as ast
from tidewell.promql.aggregations import eval_aggregate
from tidewell.promql.binops import eval_binary
from tidewell.promql.budget import CELL_BYTES, value_bytes
from tidewell.promql.context import drop_stale_st, select_series
from tidewell.promql.errors import ExecutionError
from tidewell.promql.extended import smoothed_selector
from tidewell.promql.functions import eval_call
from tidewell.promql.kernels import instant_points, range_windows
from tidewell.promql.nhist import (
    from_model,
    histogram_points,
    histogram_start_timestamps,
    is_stale_histogram,
    resolve_hints,
    unknown_hint,
)
from tidewell.promql.values import NAME_LABELS, Block, RangeData, Scalar, String

__all__ = ["Evaluator"]

_CHECK_EVERY = 256
"""Rows between deadline checks inside one selector's loop."""
_CONCAT_AT_ONCE = 1 << 20
"""Samples a range selector copies in one call (a few ms at most with the GIL held)."""
_SAMPLE_BYTES = 48
"""Bytes a range selector reserves per sample: 16 fetched, 32 for the concatenated copy."""
_MAX_SHARDS = 1 << 40
"""Past this many shards a selection is not split further (only hash collisions remain)."""


@dataclass(frozen=True)
class _ShardPlan:
    """How the matrix selector under a range function is selected for one shard."""

    matchers: list[Matcher]
    shard: ShardSelector | None
    max_samples: int
    """0: no samples hint (a single series, or nothing left to hold)."""
    held: int
    """Output points of the shards already evaluated, counted with this shard's windows."""


def _adjacent(parts: list[np.ndarray], dtype: type, total: int) -> np.ndarray | None:
    """The run ``parts`` cover when they are back-to-back slices of one 1-D ``dtype``
    array (how the head and block readers hand out a selection's series), else None."""
    if not parts or total == 0:
        return None
    base = parts[0].base
    if (base is None or base.ndim != 1 or base.dtype != dtype
            or not base.flags.c_contiguous):
        return None
    at = parts[0].__array_interface__["data"][0]
    start = at
    for p in parts:
        if p.base is not base or p.__array_interface__["data"][0] != at:
            return None
        if p.shape[0] and (p.strides[0] != base.itemsize):
            return None
        at += p.shape[0] * base.itemsize
    lo = (start - base.__array_interface__["data"][0]) // base.itemsize
    out = base[lo:lo + total]
    return out if out.shape[0] == total else None


class Evaluator:
    def __init__(self, ctx: Any, times: np.ndarray, step: int) -> None:
        self.ctx = ctx
        self.times = times
        self.step = step
        self.T = len(times)
        self.plan: _ShardPlan | None = None
        """Set while one shard of a range function's matrix selector is selected."""

    # -- helpers ------------------------------------------------------------------
    def sub(self, times: np.ndarray, step: int) -> Evaluator:
        return Evaluator(self.ctx, times, step)

    def duration_ms(self, d: ast.DurationExpr | None) -> int:
        if d is None:
            return 0
        ctx = self.ctx
        env = {"step": ctx.qstep / 1000.0, "range": (ctx.qend - ctx.qstart) / 1000.0}
        try:
            return round(d.eval(env) * 1000)
        except ZeroDivisionError as e:
            raise ExecutionError(str(e)) from None

    def eff_times(self, mods: ast.AtOffset) -> np.ndarray:
        """Per step, the time a selector or subquery is evaluated at (``@``, offset)."""
        off = self.duration_ms(mods.offset)
        if mods.at is not None:
            base = np.full(self.T, round(mods.at * 1000), dtype=np.int64)
        elif mods.at_keyword == "start":
            base = np.full(self.T, self.ctx.qstart, dtype=np.int64)
        elif mods.at_keyword == "end":
            base = np.full(self.T, self.ctx.qend, dtype=np.int64)
        else:
            base = self.times
        return base - off

    def scalar_of(self, node: ast.Expr) -> np.ndarray:
        v = self.eval(node)
        assert isinstance(v, Scalar)
        return v.values

    # -- dispatch -----------------------------------------------------------------
    def eval(self, node: ast.Expr) -> Any:
        """Evaluate ``node``; its inputs' memory is released once its result exists."""
        budget = self.ctx.budget
        budget.check()
        held = budget.memory
        val = self._eval(node)
        budget.check()  # also on the way out: a push in flight goes first (util/priority.py)
        if not self.ctx.opts.delayed_name_removal and isinstance(val, Block) \
                and any(val.drop_name):
            val = drop_names_now(val, _has_range_arg(node), budget.check)
        stats = self.ctx.sample_stats
        if stats is not None:
            if isinstance(node, ast.VectorSelector):
                stats.add(self.times, val.present.sum(axis=0))
            elif isinstance(node, ast.MatrixSelector):
                n = (val.hi - val.lo).sum(axis=0)
                stats.add(self.times, n if val.hlo is None else n + (val.hhi - val.hlo).sum(0))
        budget.settle(held, value_bytes(val))
        return val

    def _eval(self, node: ast.Expr) -> Any:
        if isinstance(node, ast.NumberLiteral):
            return Scalar(np.full(self.T, node.value))
        if isinstance(node, ast.StringLiteral):
            return String(node.value)
        if isinstance(node, ast.ParenExpr):
            return self.eval(node.expr)
        if isinstance(node, ast.VectorSelector):
            return self.vector_selector(node)
        if isinstance(node, ast.MatrixSelector):
            return self.matrix_selector(node)
        if isinstance(node, ast.SubqueryExpr):
            return self.subquery(node)
        if isinstance(node, ast.UnaryExpr):
            v = self.eval(node.expr)
            if node.op == "+":
                return v
            if isinstance(v, Scalar):
                return Scalar(-v.values)
            hist = None
            if v.hist is not None:
                hist = _NEG(v.hist)
            return Block(v.labels, -v.values, v.present, [True] * len(v), hist)
        if isinstance(node, ast.BinaryExpr):
            return eval_binary(self, node)
        if isinstance(node, ast.AggregateExpr):
            return eval_aggregate(self, node)
        if isinstance(node, ast.Call):
            return eval_call(self, node)
        raise ExecutionError(f"unhandled expression {type(node).__name__}")

    # -- selectors ----------------------------------------------------------------
    def vector_selector(self, node: ast.VectorSelector) -> Block:
        tt = self.eff_times(node.mods)
        lb = self.ctx.opts.lookback_delta_ms
        if node.smoothed or node.anchored:
            return smoothed_selector(self, node, tt)

        mint = int(tt.min()) - lb + 1
        maxt = int(tt.max())
        series = select_series(self.ctx, node.matchers, mint, maxt)
        n = len(series)
        budget = self.ctx.budget
        if n * self.T > budget.limits.max_samples:
            self._count_points(series, tt, lb)
        budget.reserve(n * self.T * CELL_BYTES)
        values = np.zeros((n, self.T))
        present = np.zeros((n, self.T), dtype=bool)
        labels = [s.labels for s in series]
        if n:  # one compiled walk over every series' samples
            offs = np.zeros(n + 1, dtype=np.int64)
            np.cumsum([len(s.timestamps) for s in series], out=offs[1:])
            instant_points(np.concatenate([s.timestamps for s in series]),
                           np.concatenate([s.values for s in series]).view(np.uint64), offs,
                           tt.astype(np.int64), lb, np.uint64(STALE_NAN_BITS),
                           values.view(np.uint64), present)
        budget.add_samples(int(present.sum()))
        hist = None
        for i, s in enumerate(series):
            if s.histograms is not None and len(s.histograms):
                if hist is None:
                    hist = np.full((n, self.T), None, dtype=object)
                self._histogram_steps(s, tt, lb, present, hist, i,
                                      id(node) in self.ctx.stats_selectors)
        self.ctx.add_samples(int(present.sum()))
        blk = Block(labels, values, present, hist=hist)
        return blk.compact() if n else blk

    def _count_points(self, series: list[Any], tt: np.ndarray, lb: int) -> None:
        """Count a selector's points row by row before its ``series x steps`` arrays exist,
        so a selector past max-samples fails without allocating them (Prometheus counts
        points, not cells: sparse series over many steps still pass)."""
        budget = self.ctx.budget
        held = 0
        for i, s in enumerate(series):
            if i and i % _CHECK_EVERY == 0:
                budget.check()
            row = _points(s, tt, lb)
            if row is not None:
                held += int(row[1].sum())
                budget.add_samples(held)

    @staticmethod
    def _histogram_steps(s: Any, tt: np.ndarray, lb: int, present: np.ndarray,
                         hist: np.ndarray, i: int, stats: bool) -> None:
        """Row ``i`` of an instant vector where the newest sample in lookback is a histogram."""
        resolved = None
        if stats:
            resolved = resolve_hints([from_model(h) for h in s.histograms.values])
        hts = s.histograms.timestamps
        hidx = np.searchsorted(hts, tt, side="right") - 1
        hok = hidx >= 0
        hidxc = np.where(hok, hidx, 0)
        h_at = hts[hidxc]
        hok &= h_at > tt - lb
        if len(s.timestamps):
            fidx = np.searchsorted(s.timestamps, tt, side="right") - 1
            f_at = np.where(fidx >= 0, s.timestamps[np.maximum(fidx, 0)], np.iinfo(np.int64).min)
            newer = hok & (h_at > f_at)
        else:
            newer = hok
        cache: dict[int, Any] = {}
        for j in np.flatnonzero(newer):
            k = int(hidxc[j])
            fh = cache.get(k)
            if fh is None:
                h = s.histograms.values[k]
                fh = cache[k] = False if is_stale_histogram(h) else (
                    from_model(h) if resolved is None else resolved[k])
            if fh is False:
                present[i, j] = False
            else:
                present[i, j] = True
                hist[i, j] = fh

    def matrix_selector(self, node: ast.MatrixSelector) -> RangeData:
        vs = node.vs
        tt = self.eff_times(vs.mods)
        rng = self.duration_ms(node.range)
        if rng <= 0:
            raise ExecutionError(f"{'range'} must be positive, got {rng}")

        extra = self.ctx.opts.lookback_delta_ms if (vs.anchored or vs.smoothed) else 0
        ext_hi = extra if vs.smoothed else 0
        plan, self.plan = self.plan, None
        mint, maxt = int(tt.min()) - rng + 1 - extra, int(tt.max()) + ext_hi
        if plan is None:
            series = select_series(self.ctx, vs.matchers, mint, maxt)
        else:
            series = select_series(self.ctx, plan.matchers, mint, maxt, plan.shard,
                                   plan.max_samples)
        held = 0 if plan is None else plan.held
        rd = self.build_range(series_arrays=[(s.labels, s.timestamps, s.values)
                                             for s in series],
                              tt=tt, rng=rng, anchored=vs.anchored, smoothed=vs.smoothed,
                              ext_lo=extra, ext_hi=ext_hi, drop_stale_markers=True, held=held)
        if any(s.start_timestamps is not None for s in series):
            rd.sts = self._concat_sts(series, [drop_stale_st(s) for s in series])
        if any(s.histograms is not None and len(s.histograms) for s in series):
            stats = id(vs) in self.ctx.stats_selectors
            self.attach_histograms(rd, [histogram_points(s, stats) for s in series], extra,
                                   ext_hi, held)
            if any(s.histograms is not None and s.histograms.start_timestamps is not None
                   for s in series):
                rd.hsts = [histogram_start_timestamps(s) for s in series]
        return rd

    def attach_histograms(self, rd: RangeData, parts: list[tuple[np.ndarray, list[Any]]],
                          ext_lo: int = 0, ext_hi: int = 0, held: int = 0) -> None:
        """Give a range vector its series' histogram samples and per-step windows
        (``held``: samples already held beside them, counted with them)."""
        n = len(parts)
        rd.hist = parts
        rd.hlo = np.zeros((n, self.T), dtype=np.int64)
        rd.hhi = np.zeros((n, self.T), dtype=np.int64)
        total = held
        for i, (hts, _hv) in enumerate(parts):
            rd.hlo[i] = np.searchsorted(hts, rd.tt - rd.rng - ext_lo, side="right")
            rd.hhi[i] = np.searchsorted(hts, rd.tt + ext_hi, side="right")
            total += int((rd.hhi[i] - rd.hlo[i]).max()) if self.T else 0
            self.ctx.add_samples(total)

    @staticmethod
    def _concat_sts(series: list[Any], parts: list[np.ndarray | None]) -> np.ndarray:
        """Start timestamps of all series, concatenated like ``RangeData.ts`` (0 = unknown)."""
        out = []
        for s, st in zip(series, parts, strict=True):
            if st is None:
                n = len(s.timestamps) - int(stale_mask(s.values).sum())
                out.append(np.zeros(n, dtype=np.int64))
            else:
                out.append(np.asarray(st, dtype=np.int64))
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def build_range(self, series_arrays: list[tuple[Labels, np.ndarray, np.ndarray]],
                    tt: np.ndarray, rng: int, anchored: bool = False,
                    smoothed: bool = False, drop_name: list[bool] | None = None,
                    ext_lo: int = 0, ext_hi: int = 0,
                    drop_stale_markers: bool = False, held: int = 0) -> RangeData:
        """Windows ``(tt - rng - ext_lo, tt + ext_hi]`` per step over the given samples
        (without staleness markers if ``drop_stale_markers``; ``held``: samples already
        held beside them, counted with them against max-samples)."""
        n = len(series_arrays)
        budget = self.ctx.budget
        sizes = np.fromiter((len(a[1]) for a in series_arrays), np.int64, n)
        total = int(sizes.sum())
        # Windows (16 bytes a cell) and the samples twice: the parts and their concatenation.
        budget.reserve(n * self.T * 16 + 32 * total)
        lo = np.zeros((n, self.T), dtype=np.int64)
        hi = np.zeros((n, self.T), dtype=np.int64)
        offs = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(sizes, out=offs[1:])
        ts_all = _adjacent([a[1] for a in series_arrays], np.int64, total)
        v_all = _adjacent([a[2] for a in series_arrays], np.float64, total)
        if ts_all is not None and v_all is not None:
            pass  # the source handed out slices of one array each: no copy
        elif total <= _CONCAT_AT_ONCE:
            ts_all = (np.concatenate([a[1] for a in series_arrays]).astype(np.int64, copy=False)
                      if n else offs[:0])
            v_all = (np.concatenate([a[2] for a in series_arrays]).astype(np.float64, copy=False)
                     if n else np.zeros(0))
        else:
            # Filled series by series rather than by one np.concatenate: a copy of hundreds
            # of MB in one call would hold the GIL (and stall the HTTP loop) for its length.
            ts_all = np.empty(total, dtype=np.int64)
            v_all = np.empty(total, dtype=np.float64)
            for i, (_lb, ts, vals) in enumerate(series_arrays):
                ts_all[offs[i]:offs[i + 1]] = ts
                v_all[offs[i]:offs[i + 1]] = vals
                if i and i % _CHECK_EVERY == 0:
                    budget.check()
        if drop_stale_markers:
            stale = stale_mask(v_all)
            if stale.any():
                keep = ~stale
                kept = np.zeros(total + 1, dtype=np.int64)
                np.cumsum(keep, out=kept[1:])
                offs = kept[offs]
                ts_all, v_all = ts_all[keep], v_all[keep]
        widest = range_windows(ts_all, offs, tt.astype(np.int64), rng + ext_lo, ext_hi, lo, hi)
        budget.add_samples(held + int(widest.sum()))
        return RangeData([s[0] for s in series_arrays], ts_all, v_all, lo, hi,
                         tt.astype(np.int64, copy=False), rng,
                         drop_name or [False] * n, anchored, smoothed)

    def range_call(self, node: ast.MatrixSelector, apply: Callable[[RangeData], Block]
                   ) -> Block:
        """``apply`` (a function whose output series depends on its own input series only)
        over ``node``, in shards of the series when the whole selection would hold more
        samples than max-samples.

        Prometheus walks such a call series by series, holding one series' window plus
        the output so far; a columnar engine holds every selected series at once. So the
        selection asks the sources to refuse more than the query may hold (before
        decoding) and is then evaluated shard by shard (``__query_shard__``), each
        shard's arrays released before the next; a shard still too big is split again
        (``i + M*j`` of ``M*k``). A single series is selected whole: its windows alone
        decide, as in Prometheus. Output rows keep the unsharded order (by labels). With
        a memory limit, what the query may still hold in bytes bounds the shards too.
        """
        budget = self.ctx.budget
        limit = budget.limits.max_samples
        mem_limit = budget.limits.max_memory_bytes
        asked, matchers = split_shard(node.vs.matchers)
        base = asked or ShardSelector(0, 1)
        todo: list[tuple[ShardSelector, bool]] = [(base, True)]
        parts: list[Block] = []
        held = 0
        memory = budget.memory
        kept = 0
        while todo:
            shard, hinted = todo.pop()
            room = limit - held
            if mem_limit:
                room = min(room, (mem_limit - budget.memory) // _SAMPLE_BYTES)
            if shard is base:  # the selector as written: sources filter by its own shard
                plan = _ShardPlan(node.vs.matchers, None, room if hinted and room > 0 else 0, 0)
            else:
                plan = _ShardPlan(matchers, shard, room if hinted and room > 0 else 0, held)
            self.plan = plan
            try:
                rd = self.eval(node)
            except SelectLimitError as exc:
                todo.extend(reversed(_split(shard, exc, room)))
                continue
            finally:
                self.plan = None
            blk = apply(rd)
            del rd  # this shard's samples are freed before the next shard is selected
            parts.append(blk)
            held += int(blk.present.sum())
            kept += value_bytes(blk)
            budget.settle(memory, kept)
        return _concat(parts, self.T)

    def subquery(self, node: ast.SubqueryExpr) -> RangeData:
        tt = self.eff_times(node.mods)
        rng = self.duration_ms(node.range)
        step = self.duration_ms(node.step) if node.step is not None else 0
        if step <= 0:
            step = self.ctx.opts.default_subquery_step_ms
        lo_t = int(tt.min()) - rng
        start = int(np.floor_divide(lo_t, step)) * step if lo_t >= 0 else -((-lo_t) // step) * step
        # Go integer division truncates toward zero; then step forward if before lo_t.
        start = int(lo_t / step) * step if lo_t < 0 else (lo_t // step) * step
        if start < lo_t:
            start += step
        end = int(tt.max())
        if end < start:
            times = np.zeros(0, dtype=np.int64)
        else:
            steps = (end - start) // step + 1
            self.ctx.budget.check_steps(steps)
            times = start + np.arange(steps, dtype=np.int64) * step
        inner = self.sub(times, step)
        val = inner.eval(node.expr) if len(times) else Block.empty(0)
        if isinstance(val, Scalar):
            raise ExecutionError("subquery is only allowed on instant vector")
        arrays = []
        drop = []
        hparts = []
        hm = val.hist_mask()
        for i, lb in enumerate(val.labels):
            if i and i % _CHECK_EVERY == 0:
                self.ctx.budget.check()
            m = val.present[i]
            if m.any():
                fm = m if hm is None else m & ~hm[i]
                arrays.append((lb, times[fm], val.values[i][fm]))
                drop.append(val.drop_name[i])
                if hm is not None:
                    hparts.append((times[hm[i]], [unknown_hint(h) for h in val.hist[i][hm[i]]]))
        rd = self.build_range(arrays, tt, rng, drop_name=drop)
        if hm is not None and hm.any():
            self.attach_histograms(rd, hparts)
        return rd


def _split(shard: ShardSelector, exc: SelectLimitError, room: int
           ) -> list[tuple[ShardSelector, bool]]:
    """The shards to select instead of ``shard``, which would hold ``exc.samples`` (at
    least) over ``exc.series`` series where ``room`` samples may be held: about half of
    ``room`` each, so hash skew rarely needs a second split. A single series (or a shard
    count past ``_MAX_SHARDS``) is selected whole, without the samples hint."""
    if exc.series <= 1 or shard.count >= _MAX_SHARDS:
        return [(shard, False)]
    k = min(exc.series, max(2, -(-2 * exc.samples // max(room, 1))))
    return [(s, True) for s in shard.split(k)]


def _concat(parts: list[Block], steps: int) -> Block:
    """The shards' outputs as one block, rows in label order as an unsharded call."""
    if len(parts) == 1:
        return parts[0]
    labels = [lb for b in parts for lb in b.labels]
    if not labels:
        return Block.empty(steps)
    order = sorted(range(len(labels)), key=labels.__getitem__)
    hist = None
    if any(b.hist is not None for b in parts):
        hist = np.concatenate([b.hist if b.hist is not None
                               else np.full(b.values.shape, None, dtype=object)
                               for b in parts])[order]
    drop = [d for b in parts for d in b.drop_name]
    return Block([labels[i] for i in order],
                 np.concatenate([b.values for b in parts])[order],
                 np.concatenate([b.present for b in parts])[order],
                 [drop[i] for i in order], hist)


def _points(s: Any, tt: np.ndarray, lb: int) -> tuple[np.ndarray, np.ndarray] | None:
    """One series' float value and presence at each step (None when it has no floats)."""
    if len(s.timestamps) == 0:
        return None
    idx = np.searchsorted(s.timestamps, tt, side="right") - 1
    ok = idx >= 0
    idxc = np.where(ok, idx, 0)
    ok &= s.timestamps[idxc] > tt - lb
    v = s.values[idxc]
    ok &= ~stale_mask(v)
    return v, ok


_NEG = np.frompyfunc(lambda h: None if h is None else h.scaled(-1.0), 1, 1)


def _has_range_arg(node: ast.Expr) -> bool:
    return isinstance(node, ast.Call) and any(a.type() == ast.MATRIX for a in node.args)


def drop_names_now(b: Block, whole_range: bool, check: Callable[[], None] = lambda: None
                   ) -> Block:
    """``b`` with the marked names removed (no delayed name removal). Rows that end up
    with the same labels fail the query, as in Prometheus: a function of a range vector
    if both rows hold any point (``Matrix.ContainsSameLabelset``), anything else if they
    hold a point at the same step. ``check`` (the query budget's) runs every
    ``_CHECK_EVERY`` rows: a push in flight goes first (util/priority.py)."""
    labels: list[Labels] = []
    for lo in range(0, len(b.labels), _CHECK_EVERY):
        if lo:
            check()
        hi = lo + _CHECK_EVERY
        labels += [without_name(lb) if d else lb for lb, d in zip(b.labels[lo:hi],
                                                                  b.drop_name[lo:hi],
                                                                  strict=True)]
    seen: dict[Labels, int] = {}
    present, values, hist = b.present, b.values, b.hist
    copied = False
    for i, lb in enumerate(labels):
        j = seen.get(lb)
        if j is None:
            seen[lb] = i
            continue
        both = present[i] & present[j] if not whole_range else (
            present[i].any() & present[j].any())
        if np.any(both):
            raise ExecutionError("vector cannot contain metrics with the same labelset")
        if whole_range or not present[i].any():
            continue
        if not copied:  # the arrays may be shared with the node's inputs
            present, values = present.copy(), values.copy()
            hist = None if hist is None else hist.copy()
            copied = True
        present[j] |= present[i]  # rows of one series, disjoint in time: one row
        values[j] = np.where(present[i], values[i], values[j])
        if hist is not None:
            hist[j] = np.where(present[i], hist[i], hist[j])
        present[i] = False
    return Block(labels, values, present, [False] * len(labels), hist).compact()


def without_name(lb: Labels) -> Labels:
    return lb.without(*NAME_LABELS)
