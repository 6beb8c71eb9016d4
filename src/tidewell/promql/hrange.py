"""Range functions over windows holding native histograms (``rate``, ``*_over_time`` …).

The float kernels have already filled every window's float result; this pass
visits only the (series, step) windows that hold histograms and applies
Prometheus's rules there: histogram results, mixed-sample warnings, counts
that include histograms. Windows without histograms are left untouched.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from tidewell.model import CounterResetHint
from tidewell.promql import nhist
from tidewell.promql import nodes as ast
from tidewell.promql.nhist import FH, HistError
from tidewell.promql.values import RangeData

__all__ = ["Notes", "apply_histograms", "count_changes"]

_FLOAT_ONLY = {"max_over_time", "min_over_time", "ts_of_max_over_time", "ts_of_min_over_time",
               "stddev_over_time", "stdvar_over_time", "quantile_over_time", "mad_over_time",
               "deriv", "predict_linear", "double_exponential_smoothing"}


class Notes:
    """Annotations of histogram operations, by the text Prometheus uses."""

    def __init__(self, ev: Any, node: ast.Expr) -> None:
        self.ev, self.node = ev, node

    def mixed(self, name: str) -> None:
        self.ev.ctx.warn(f'encountered a mix of histograms and floats for metric name "{name}"',
                         self.node)

    def mixed_schemas(self, name: str) -> None:
        self.ev.ctx.warn("vector contains a mix of histograms with exponential and custom "
                         f'buckets schemas for metric name "{name}"', self.node)

    def not_counter(self, name: str) -> None:
        self.ev.ctx.warn(f'this native histogram metric is not a counter: "{name}"', self.node)

    def not_gauge(self, name: str) -> None:
        self.ev.ctx.warn(f'this native histogram metric is not a gauge: "{name}"', self.node)

    def reconciled(self, op: str) -> None:
        self.ev.ctx.info(f"mismatched custom buckets were reconciled during {op}", self.node)

    def collision(self, op: str) -> None:
        self.ev.ctx.warn(f"conflicting counter resets during histogram {op}", self.node)

    def ignored_in_range(self, name: str) -> None:
        self.ev.ctx.info("ignored histograms in a range containing both floats and histograms "
                         f'for metric name "{name}"', self.node)


def apply_histograms(ev: Any, node: ast.Call, f: str, rd: RangeData, out: np.ndarray,
                     ok: np.ndarray) -> np.ndarray | None:
    """Fix up ``out``/``ok`` where windows hold histograms; returns the histogram results
    ((N, T) object array) or None when no window yields one."""
    assert rd.hist is not None and rd.hlo is not None and rd.hhi is not None
    notes = Notes(ev, node.args[1] if f == "quantile_over_time" else node.args[0])
    res = np.full(out.shape, None, dtype=object)
    nh_all = rd.hhi - rd.hlo
    for i, j in zip(*np.nonzero(nh_all > 0), strict=True):
        hts, hvals = rd.hist[i]
        a, b = int(rd.hlo[i, j]), int(rd.hhi[i, j])
        fa, fb = int(rd.lo[i, j]), int(rd.hi[i, j])
        name = rd.labels[i].name
        nf = fb - fa
        win_t, win_h = hts[a:b], hvals[a:b]
        if f in _FLOAT_ONLY:
            if nf:
                notes.ignored_in_range(name)
            continue
        if f == "count_over_time":
            out[i, j], ok[i, j] = nf + (b - a), True
            continue
        if f == "present_over_time":
            out[i, j], ok[i, j] = 1.0, True
            continue
        if f in ("last_over_time", "ts_of_last_over_time", "first_over_time",
                 "ts_of_first_over_time"):
            last = f in ("last_over_time", "ts_of_last_over_time")
            ht = win_t[-1] if last else win_t[0]
            if nf:
                ft = rd.ts[fb - 1] if last else rd.ts[fa]
                if (ft > ht) if last else (ft < ht):
                    continue
            ok[i, j] = True
            if f.startswith("ts_of"):
                out[i, j] = ht / 1000.0
            else:
                ok[i, j] = True
                res[i, j] = win_h[-1] if last else win_h[0]
            continue
        if f in ("changes", "resets"):
            pts = sorted([*zip(rd.ts[fa:fb].tolist(), rd.vals[fa:fb].tolist(), strict=True),
                          *zip(win_t.tolist(), win_h, strict=True)], key=lambda p: p[0])
            out[i, j], ok[i, j] = count_changes(pts, f == "resets"), True
            continue
        ok[i, j] = False
        if nf and f not in ("irate", "idelta"):
            notes.mixed(name)
            continue
        h: FH | None = None
        if f in ("sum_over_time", "avg_over_time"):
            h = _sum(win_h, notes, name, f == "avg_over_time")
        elif f in ("rate", "increase", "delta"):
            if len(win_h) >= 2:
                h = _rate(win_t, win_h, f != "delta", f == "rate", rd, j, notes, name)
        elif f in ("irate", "idelta"):
            h = _instant(rd.ts[fa:fb], win_t, win_h, f == "irate", notes, name, out, ok, i, j,
                         rd.vals[fa:fb])
        if h is not None:
            res[i, j] = h
            ok[i, j] = True
    return res if any(x is not None for x in res.flat) else None


def _sum(hs: list[FH], notes: Notes, name: str, mean: bool) -> FH | None:
    hints = {h.hint for h in hs}
    try:
        acc, reconciled = nhist.hmean(hs) if mean else nhist.hsum(hs)
    except HistError:
        notes.mixed_schemas(name)
        return None
    if {CounterResetHint.COUNTER_RESET, CounterResetHint.NOT_COUNTER_RESET} <= hints:
        notes.collision("aggregation")
    if reconciled:
        notes.reconciled("aggregation")
    return acc


def _rate(ts: np.ndarray, hs: list[FH], counter: bool, is_rate: bool, rd: RangeData, j: int,
          notes: Notes, name: str) -> FH | None:
    prev = hs[0]
    last = hs[-1]
    custom = prev.custom
    if counter and (prev.hint == CounterResetHint.GAUGE or last.hint == CounterResetHint.GAUGE):
        notes.not_counter(name)
    if counter and nhist.detect_reset(hs[1], prev):
        prev = FH(schema=hs[1].schema, custom_values=hs[1].custom_values)
        custom = hs[1].custom
    if last.custom != custom:
        notes.mixed_schemas(name)
        return None
    min_schema = min(last.schema, prev.schema)
    for cur in hs[1:-1]:
        if not counter:
            continue
        if cur.hint == CounterResetHint.GAUGE:
            notes.not_counter(name)
        min_schema = min(min_schema, cur.schema)
        if cur.custom != custom:
            notes.mixed_schemas(name)
            return None
    try:
        r = nhist.add(nhist.reduced(last, min_schema), prev, -1.0)
    except HistError:
        notes.mixed_schemas(name)
        return None
    h = r.h
    if r.reconciled:
        notes.reconciled("subtraction")
    if counter:
        p = prev
        for cur in hs[1:]:
            if nhist.detect_reset(cur, p):
                try:
                    r = nhist.add(h, p)
                except HistError:
                    notes.mixed_schemas(name)
                    return None
                h = r.h
                if r.reconciled:
                    notes.reconciled("addition")
            p = cur
    elif hs[0].hint != CounterResetHint.GAUGE or hs[-1].hint != CounterResetHint.GAUGE:
        notes.not_gauge(name)
    h.hint = CounterResetHint.GAUGE
    # Extrapolation, as for floats.
    range_end = int(rd.tt[j])
    range_start = range_end - rd.rng
    first_t, last_t = int(ts[0]), int(ts[-1])
    n1 = len(ts) - 1
    to_start = (first_t - range_start) / 1000
    to_end = (range_end - last_t) / 1000
    sampled = (last_t - first_t) / 1000
    avg = sampled / n1
    thr = avg * 1.1
    if to_start >= thr:
        to_start = avg / 2
    if counter and h.count > 0 and hs[0].count >= 0:
        to_zero = sampled * (hs[0].count / h.count)
        to_start = min(to_start, to_zero)
    if to_end >= thr:
        to_end = avg / 2
    factor = (sampled + to_start + to_end) / sampled if sampled else 1.0
    if is_rate:
        factor /= rd.rng / 1000
    return h.scaled(factor)


def _instant(fts: np.ndarray, hts: np.ndarray, hs: list[FH], is_rate: bool, notes: Notes,
             name: str, out: np.ndarray, ok: np.ndarray, i: int, j: int,
             fvals: np.ndarray) -> FH | None:
    pts: list[tuple[int, float | FH]] = [(int(t), float(v)) for t, v in
                                         zip(fts[-2:], fvals[-2:], strict=True)]
    pts += [(int(t), h) for t, h in zip(hts[-2:], hs[-2:], strict=True)]
    pts.sort(key=lambda p: p[0])
    if len(pts) < 2:
        return None
    (t0, v0), (t1, v1) = pts[-2], pts[-1]
    dt = (t1 - t0) / 1000
    if dt == 0:
        return None
    if isinstance(v0, float) and isinstance(v1, float):
        r = v1 if is_rate and v1 < v0 else v1 - v0
        out[i, j], ok[i, j] = (r / dt if is_rate else r), True
        return None
    if isinstance(v0, float) or isinstance(v1, float):
        notes.mixed(name)
        return None
    if is_rate and CounterResetHint.GAUGE in (v0.hint, v1.hint):
        notes.not_counter(name)
    if not is_rate and (v0.hint != CounterResetHint.GAUGE or v1.hint != CounterResetHint.GAUGE):
        notes.not_gauge(name)
    h = v1.copy()
    if not is_rate or not nhist.detect_reset(v1, v0):
        try:
            r = nhist.add(v1, v0, -1.0)
        except HistError:
            notes.mixed_schemas(name)
            return None
        h = r.h
        if r.reconciled:
            notes.reconciled("subtraction")
    h.hint = CounterResetHint.GAUGE
    return h.divided(dt) if is_rate else h


def count_changes(pts: list[tuple[int, float | FH]], resets: bool) -> float:
    """``changes``/``resets`` over time-ordered float and histogram points."""
    n = 0
    for (_, a), (_, b) in itertools.pairwise(pts):
        fa, fb = isinstance(a, float), isinstance(b, float)
        if fa and fb:
            if resets:
                n += b < a  # type: ignore[operator]
            else:
                n += a != b and not (a != a and b != b)
        elif fa != fb:
            n += 1
        elif resets:
            n += nhist.detect_reset(b, a)  # type: ignore[arg-type]
        else:
            n += not nhist.equal(a, b)  # type: ignore[arg-type]
    return float(n)
