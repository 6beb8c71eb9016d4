"""PromQL functions: element-wise math, range functions, labels, sorting, histograms."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from tidewell.model import METRIC_NAME, Labels, is_utf8_name
from tidewell.model.matchers import InvalidRegexError, RegexMatch, compile_regex
from tidewell.model.samples import stale_mask
from tidewell.promql import histograms, kernels
from tidewell.promql import nodes as ast
from tidewell.promql.context import select_series
from tidewell.promql.errors import ExecutionError
from tidewell.promql.extended import check_modifier, run_extended, run_extended_histograms
from tidewell.promql.format import format_float
from tidewell.promql.hfuncs import histogram_stat
from tidewell.promql.hrange import Notes, apply_histograms
from tidewell.promql.info import eval_info
from tidewell.promql.kernels_st import ST_FUNCS, run_st
from tidewell.promql.nhist import is_stale_histogram
from tidewell.promql.values import Block, RangeData, Scalar, String

__all__ = ["eval_call"]


def _deg(x: np.ndarray) -> np.ndarray:
    return x * 180 / math.pi


def _rad(x: np.ndarray) -> np.ndarray:
    return x * math.pi / 180


def _sgn(x: np.ndarray) -> np.ndarray:
    return np.sign(x)


def _round_half_up(x: np.ndarray) -> np.ndarray:
    return np.floor(x + 0.5)


_MATH: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "abs": np.abs, "ceil": np.ceil, "floor": np.floor, "exp": np.exp, "sqrt": np.sqrt,
    "ln": np.log, "log2": np.log2, "log10": np.log10, "sin": np.sin, "cos": np.cos,
    "tan": np.tan, "asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "sinh": np.sinh,
    "cosh": np.cosh, "tanh": np.tanh, "asinh": np.arcsinh, "acosh": np.arccosh,
    "atanh": np.arctanh, "deg": _deg, "rad": _rad, "sgn": _sgn,
}
_KEEP_NAME = {"last_over_time", "first_over_time", "sort", "sort_desc", "sort_by_label",
              "sort_by_label_desc", "label_replace", "label_join", "info"}


def eval_call(ev: Any, node: ast.Call) -> Any:
    f = node.func
    T = ev.T
    ctx = ev.ctx
    if f == "time":
        return Scalar(ev.times / 1000.0)
    if f == "pi":
        return Scalar(np.full(T, math.pi))
    if f in ("start", "end"):
        return Scalar(np.full(T, (ctx.qstart if f == "start" else ctx.qend) / 1000.0))
    if f == "step":
        return Scalar(np.full(T, ctx.qstep / 1000.0))
    if f == "range":
        return Scalar(np.full(T, (ctx.qend - ctx.qstart) / 1000.0))
    if f in ("min_of", "max_of"):
        a, b = ev.scalar_of(node.args[0]), ev.scalar_of(node.args[1])
        with np.errstate(all="ignore"):
            return Scalar(np.minimum(a, b) if f == "min_of" else np.maximum(a, b))
    if f == "vector":
        return Block([Labels()], ev.scalar_of(node.args[0])[None, :].copy(),
                     np.ones((1, T), dtype=bool))
    if f == "scalar":
        b = ev.eval(node.args[0]).floats_only()
        out = np.full(T, np.nan)
        cnt = b.present.sum(axis=0)
        if len(b):
            first = np.argmax(b.present, axis=0)
            vals = b.values[first, np.arange(T)]
            out = np.where(cnt == 1, vals, np.nan)
        return Scalar(out)
    if f in kernels.KERNELS:
        return _range_func(ev, node)
    if f == "absent_over_time":
        rd = ev.eval(node.args[0])
        any_ = (rd.hi > rd.lo).any(axis=0) if len(rd.labels) else np.zeros(T, dtype=bool)
        if rd.hist is not None and rd.hhi is not None and rd.hlo is not None:
            any_ = any_ | (rd.hhi > rd.hlo).any(axis=0)
        return _absent_block(node.args[0], ~any_, T)
    if f == "absent":
        b = ev.eval(node.args[0])
        any_ = b.present.any(axis=0) if len(b) else np.zeros(T, dtype=bool)
        return _absent_block(node.args[0], ~any_, T)
    if f in _MATH:
        b = ev.eval(node.args[0]).floats_only()
        with np.errstate(all="ignore"):
            vals = _MATH[f](b.values)
        return Block(b.labels, vals, b.present, [True] * len(b))
    if f == "round":
        b = ev.eval(node.args[0]).floats_only()
        to = ev.scalar_of(node.args[1]) if len(node.args) > 1 else np.ones(T)
        with np.errstate(all="ignore"):
            inv = 1.0 / to
            vals = np.floor(b.values * inv + 0.5) / inv
        return Block(b.labels, vals, b.present, [True] * len(b))
    if f in ("clamp", "clamp_min", "clamp_max"):
        b = ev.eval(node.args[0]).floats_only()
        if f == "clamp":
            lo, hi = ev.scalar_of(node.args[1]), ev.scalar_of(node.args[2])
        elif f == "clamp_min":
            lo, hi = ev.scalar_of(node.args[1]), np.full(T, np.inf)
        else:
            lo, hi = np.full(T, -np.inf), ev.scalar_of(node.args[1])
        vals = np.maximum(b.values, lo[None, :])
        vals = np.minimum(vals, hi[None, :])
        pres = b.present & ~(lo > hi)[None, :] if f == "clamp" else b.present
        vals = np.where(np.isnan(lo)[None, :] | np.isnan(hi)[None, :], np.nan, vals)
        return Block(b.labels, vals, pres, [True] * len(b)).compact()
    if f == "timestamp":
        return _timestamp(ev, node)
    if f in ("day_of_month", "day_of_week", "day_of_year", "days_in_month", "hour", "minute",
             "month", "year"):
        if node.args:
            b = ev.eval(node.args[0]).floats_only()
        else:
            b = Block([Labels()], (ev.times / 1000.0)[None, :], np.ones((1, T), dtype=bool))
        return Block(b.labels, _date(f, b.values), b.present, [True] * len(b))
    if f in ("sort", "sort_desc", "sort_by_label", "sort_by_label_desc"):
        return _sort(ev, node)
    if f == "label_replace":
        return _label_replace(ev, node)
    if f == "label_join":
        return _label_join(ev, node)
    if f in ("histogram_quantile", "histogram_quantiles", "histogram_fraction"):
        return getattr(histograms, f)(ev, node)
    if f in ("histogram_count", "histogram_sum", "histogram_avg", "histogram_stddev",
             "histogram_stdvar"):

        return histogram_stat(ev, node)
    if f == "info":
        return eval_info(ev, node)
    if f == "start_timestamp":
        return _timestamp(ev, node, start=True)
    raise ExecutionError(f"function {f} is not supported")


def _absent_block(arg: ast.Expr, mask: np.ndarray, T: int) -> Block:
    lb: dict[str, str] = {}
    sel = None
    if isinstance(arg, ast.VectorSelector):
        sel = arg
    elif isinstance(arg, ast.MatrixSelector):
        sel = arg.vs
    if sel is not None:
        uses = Counter(m.name for m in sel.matchers)
        for m in sel.matchers:
            if m.name != METRIC_NAME and m.type.value == "=" and uses[m.name] == 1:
                lb[m.name] = m.value
    return Block([Labels(lb.items())], np.ones((1, T)), mask[None, :].copy()).compact()


def _range_func(ev: Any, node: ast.Call) -> Block:
    f = node.func
    rd_node = node.args[1] if f == "quantile_over_time" else node.args[0]
    p1 = None
    p2 = None
    if f == "quantile_over_time":
        p1 = ev.scalar_of(node.args[0])
        for x in np.unique(p1):
            if math.isnan(x) or x < 0 or x > 1:
                ev.ctx.warn(f"quantile value should be between 0 and 1, got {format_float(x)}",
                            node.args[0])
    elif f == "predict_linear":
        p1 = ev.scalar_of(node.args[1])  # shifted below: the intercept is at the step time
    elif f == "double_exponential_smoothing":
        p1 = ev.scalar_of(node.args[1])
        tf = ev.scalar_of(node.args[2])
        sf0, tf0 = float(p1[0]), float(tf[0])
        if not (0 < sf0 < 1):
            raise ExecutionError(f"invalid smoothing factor. Expected: 0 < sf < 1, got: {sf0:f}")
        if not (0 < tf0 < 1):
            raise ExecutionError(f"invalid trend factor. Expected: 0 < tf < 1, got: {tf0:f}")
        p2 = tf0

    def apply(rd: RangeData) -> Block:
        return _range_values(ev, node, rd_node, rd, p1, p2)

    if isinstance(rd_node, ast.MatrixSelector):  # per series: may run in shards of them
        return ev.range_call(rd_node, apply)
    rd = ev.eval(rd_node)
    assert isinstance(rd, RangeData)
    return apply(rd)


def _range_values(ev: Any, node: ast.Call, rd_node: ast.Expr, rd: RangeData,
                  p1: np.ndarray | None, p2: float | None) -> Block:
    """The range function ``node`` over the range vector ``rd`` (its argument ``rd_node``)."""
    f = node.func
    if f == "predict_linear" and p1 is not None:
        p1 = p1 + (ev.times - rd.tt) / 1000.0
    if rd.anchored or rd.smoothed:
        check_modifier(f, rd)
    if rd.anchored or rd.smoothed:
        out, ok = run_extended(f, rd)
    elif rd.sts is not None and f in ST_FUNCS:
        out, ok, overlap = run_st(f, rd.ts, rd.vals, rd.sts, rd.lo, rd.hi, rd.tt, rd.rng)
        notes = Notes(ev, rd_node)
        for name in sorted({rd.labels[i].name for i in np.flatnonzero(overlap)}):
            notes.st_overlap(name)
    else:
        out, ok = kernels.run(f, rd.ts, rd.vals, rd.lo, rd.hi, rd.tt, rd.rng, p1, p2)
    if f == "quantile_over_time" and p1 is not None:
        out = np.where(np.isnan(p1)[None, :] & ok, np.nan, out)
    hist = None
    if rd.hist is not None and (rd.anchored or rd.smoothed):
        hist = run_extended_histograms(ev, node, f, rd, out, ok)
    elif rd.hist is not None:

        hist = apply_histograms(ev, node, f, rd, out, ok)
    keep_name = f in _KEEP_NAME
    drop = [bool(d) or not keep_name for d in rd.drop_name] if keep_name else [True] * len(
        rd.labels)
    if f in ("rate", "increase") and len(rd.labels):
        _counter_warnings(ev, node, rd)
    return Block(list(rd.labels), out, ok, drop, hist).compact()


def _counter_warnings(ev: Any, node: ast.Call, rd: RangeData) -> None:
    for name in dict.fromkeys(lb.name for lb in rd.labels):  # once per metric name
        if name and not (name.endswith("_total") or name.endswith("_sum")
                         or name.endswith("_count") or name.endswith("_bucket")):
            ev.ctx.info(f'metric might not be a counter, name does not end in _total/_sum/'
                        f'_count/_bucket: "{name}"', node.args[0])


def _timestamp(ev: Any, node: ast.Call, start: bool = False) -> Block:
    """``timestamp()``, or with ``start`` ``start_timestamp()``: the (start) time of each
    selected sample; start times are known only when the argument is a selector."""
    arg = node.args[0]
    T = ev.T
    inner = arg
    while isinstance(inner, ast.ParenExpr):
        inner = inner.expr
    if isinstance(inner, ast.VectorSelector) and not (inner.anchored or inner.smoothed):
        tt = ev.eff_times(inner.mods)
        lb = ev.ctx.opts.lookback_delta_ms
        series = select_series(ev.ctx, inner.matchers, int(tt.min()) - lb + 1, int(tt.max()))
        labels, vals, pres = [], np.zeros((len(series), T)), np.zeros((len(series), T), bool)
        for i, s in enumerate(series):
            labels.append(s.labels)
            ts_all, stale = s.timestamps, stale_mask(s.values)
            st_all = _starts(s.start_timestamps, len(ts_all)) if start else None
            hs = s.histograms
            if hs is not None and len(hs):
                ts_all = np.concatenate([ts_all, hs.timestamps])
                stale = np.concatenate([stale, [is_stale_histogram(h) for h in hs.values]])
                order = np.argsort(ts_all, kind="stable")
                ts_all, stale = ts_all[order], stale[order]
                if st_all is not None:
                    st_all = np.concatenate([st_all, _starts(hs.start_timestamps,
                                                             len(hs))])[order]
            if not len(ts_all):
                continue
            idx = np.searchsorted(ts_all, tt, side="right") - 1
            ok = idx >= 0
            idxc = np.where(ok, idx, 0)
            t_at = ts_all[idxc]
            ok &= (t_at > tt - lb) & ~stale[idxc]
            if st_all is not None:
                vals[i] = st_all[idxc] / 1000.0
            else:
                vals[i] = t_at / 1000.0
            pres[i] = ok
        return Block(labels, vals, pres, [True] * len(labels)).compact()
    b = ev.eval(arg)
    if start:
        return Block.empty(T)
    vals = np.broadcast_to(ev.times / 1000.0, b.values.shape).copy()
    return Block(b.labels, vals, b.present, [True] * len(b))


def _starts(st: np.ndarray | None, n: int) -> np.ndarray:
    """Start timestamps of ``n`` samples, zeros (unknown) when there are none."""
    return np.zeros(n, dtype=np.int64) if st is None else st


def _date(f: str, secs: np.ndarray) -> np.ndarray:
    out = np.full(secs.shape, np.nan)
    ok = np.isfinite(secs)
    s = np.where(ok, secs, 0).astype(np.int64)
    dt = s.astype("datetime64[s]")
    years = dt.astype("datetime64[Y]")
    months = dt.astype("datetime64[M]")
    days = dt.astype("datetime64[D]")
    if f == "year":
        r = years.astype(np.int64) + 1970
    elif f == "month":
        r = months.astype(np.int64) % 12 + 1
    elif f == "day_of_month":
        r = (days - months).astype(np.int64) + 1
    elif f == "day_of_year":
        r = (days - years).astype(np.int64) + 1
    elif f == "day_of_week":
        r = (days.astype(np.int64) + 4) % 7
    elif f == "hour":
        r = (s // 3600) % 24
    elif f == "minute":
        r = (s // 60) % 60
    else:  # days_in_month
        r = ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(
            np.int64)
    out[ok] = r[ok]
    return out


def _sort(ev: Any, node: ast.Call) -> Block:
    b = ev.eval(node.args[0])
    if node.func in ("sort", "sort_desc"):
        b = b.floats_only()
    f = node.func
    if ev.T > 1:
        ev.ctx.warn("sort is ineffective for range queries since results are always ordered by "
                    "labels", node)
        return b
    rows = [i for i in range(len(b)) if b.present[i, 0]]
    if f in ("sort", "sort_desc"):
        desc = f == "sort_desc"

        def key(i: int) -> tuple[int, float]:
            v = b.values[i, 0]
            if math.isnan(v):
                return (1, 0.0)
            return (0, -v if desc else v)

        rows.sort(key=key)
    else:
        names = [_str_arg(a) for a in node.args[1:]]
        rows.sort(key=lambda i: [_natural(b.labels[i].get(n)) for n in names]
                  + [b.labels[i]], reverse=f == "sort_by_label_desc")
    return b.take(rows)


def _natural(s: str) -> list[Any]:
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", s) if p]


def _expand(template: str, m: RegexMatch) -> str:
    def rep(x: re.Match[str]) -> str:
        if x.group(0) == "$$":
            return "$"
        name = x.group(1) or x.group(2)
        try:
            if name.isdigit():
                return m.group(int(name)) or ""
            return m.group(name) or ""
        except (IndexError, error_type):
            return ""

    error_type = IndexError
    return re.sub(r"\$\$|\$\{([^}]*)\}|\$([a-zA-Z0-9_]+)", rep, template)


def _label_replace(ev: Any, node: ast.Call) -> Block:
    b = ev.eval(node.args[0])
    dst, repl, src, regex = (_str_arg(a) for a in node.args[1:])
    try:
        rx = compile_regex(regex)
    except InvalidRegexError as e:
        raise ExecutionError(f'invalid regular expression in label_replace(): {regex}') from e
    if not is_utf8_name(dst):
        raise ExecutionError(f'invalid destination label name in label_replace(): {dst}')

    def value(lb: Labels) -> str | None:
        m = rx.fullmatch(lb.get(src))
        return None if m is None else _expand(repl, m)

    return _set_label(b, dst, value)


def _label_join(ev: Any, node: ast.Call) -> Block:
    b = ev.eval(node.args[0])
    strs = [_str_arg(a) for a in node.args[1:]]
    dst, sep, srcs = strs[0], strs[1], strs[2:]
    for s_ in srcs:
        if not is_utf8_name(s_):
            raise ExecutionError(f'invalid source label name in label_join(): {s_}')
    if not is_utf8_name(dst):
        raise ExecutionError(f'invalid destination label name in label_join(): {dst}')
    return _set_label(b, dst, lambda lb: sep.join(lb.get(s) for s in srcs))


def _set_label(b: Block, dst: str, value: Callable[[Labels], str | None]) -> Block:
    """``b`` with label ``dst`` of each series set to ``value(labels)``: removed when empty,
    left alone when None; a series whose name is set keeps it."""
    labels, drop = [], []
    for lb, d in zip(b.labels, b.drop_name, strict=True):
        val = value(lb)
        if val is not None:
            lb = lb.with_label(dst, val) if val else lb.without(dst)
            if dst == METRIC_NAME:
                d = False
        labels.append(lb)
        drop.append(d)
    return Block(labels, b.values, b.present, drop, b.hist)


def _str_arg(a: ast.Expr) -> str:
    while isinstance(a, ast.ParenExpr):
        a = a.expr
    assert isinstance(a, ast.StringLiteral)
    return a.value


_ = String
