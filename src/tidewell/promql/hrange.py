"""Range functions over windows holding native histograms (``rate``, ``*_over_time`` …).

The float kernels have already filled every window's float result; this pass
visits only the (series, step) windows that hold histograms and applies
Prometheus's rules there: histogram results, mixed-sample warnings, counts
that include histograms. Windows without histograms are left untouched.

Start timestamps (``RangeData.hsts``) count for ``rate``/``increase``/``irate``/
``resets`` by the rules of ``kernels_st``: an ST past the previous sample's time
is a reset, and a first sample whose ST lies inside the window stands on a zero
sample at that ST instead of extrapolating to the left (one sample suffices).
"""

from __future__ import annotations

import itertools
from typing import Any, NamedTuple

import numpy as np

from tidewell.model import CounterResetHint
from tidewell.promql import nhist
from tidewell.promql import nodes as ast
from tidewell.promql.kernels_st import ST_FUNCS, st_flags, st_reset
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

    def st_overlap(self, name: str) -> None:
        self.ev.ctx.warn("sample has start time that overlaps with previous sample timestamp "
                         f'for metric "{name}"', self.node)

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
    st_on = rd.hsts is not None and f in ST_FUNCS
    flags: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # per series, from st_flags
    for i, j in zip(*np.nonzero(nh_all > 0), strict=True):
        hts, hvals = rd.hist[i]
        a, b = int(rd.hlo[i, j]), int(rd.hhi[i, j])
        fa, fb = int(rd.lo[i, j]), int(rd.hi[i, j])
        name = rd.labels[i].name
        nf = fb - fa
        win_t, win_h = hts[a:b], hvals[a:b]
        win_st = rd.hsts[i][a:b] if st_on and rd.hsts is not None else None
        starts = None
        if win_st is not None and f in ("rate", "increase"):
            if i not in flags:
                flags[i] = st_flags(hts, rd.hsts[i])  # type: ignore[index]
            starts = _Starts(win_st, flags[i][0][a:b], flags[i][1][a:b])
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
            pts = sorted([*zip(rd.ts[fa:fb].tolist(), rd.vals[fa:fb].tolist(),
                               _starts(_float_sts(rd, f, fa, fb), nf), strict=True),
                          *zip(win_t.tolist(), win_h, _starts(win_st, len(win_t)), strict=True)],
                         key=lambda p: p[0])
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
            h = _rate(win_t, win_h, starts, f != "delta", f == "rate", rd, j, notes, name)
        elif f in ("irate", "idelta"):
            h = _instant(_Window(rd.ts[fa:fb], rd.vals[fa:fb], _float_sts(rd, f, fa, fb)),
                         _Window(win_t, win_h, win_st), f == "irate", notes, name, out, ok, i, j)
        if h is not None:
            res[i, j] = h
            ok[i, j] = True
    return res if any(x is not None for x in res.flat) else None


def _float_sts(rd: RangeData, f: str, fa: int, fb: int) -> np.ndarray | None:
    """The start timestamps of a window's floats, when ``f`` uses them and they are known."""
    return rd.sts[fa:fb] if f in ST_FUNCS and rd.sts is not None else None


def _starts(sts: np.ndarray | None, n: int) -> list[int]:
    """``n`` start timestamps as ints, zeros (unknown) when there are none."""
    return [0] * n if sts is None else sts.tolist()


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


def _combine(a: FH, b: FH, sign: float, notes: Notes, name: str) -> FH | None:
    """``a + sign * b`` (``nhist.add``) with its notes: None (noted) when the schemas do not
    mix, and a note when bucket layouts were reconciled."""
    try:
        r = nhist.add(a, b, sign)
    except HistError:
        notes.mixed_schemas(name)
        return None
    if r.reconciled:
        notes.reconciled("addition" if sign > 0 else "subtraction")
    return r.h


class _Starts(NamedTuple):
    """A window's start timestamps with ``st_flags``'s reset and overlap flags."""

    sts: np.ndarray
    reset: np.ndarray
    overlap: np.ndarray


def _rate(ts: np.ndarray, hs: list[FH], starts: _Starts | None, counter: bool,
          is_rate: bool, rd: RangeData, j: int, notes: Notes, name: str) -> FH | None:
    """Prometheus's ``extrapolatedRate`` for a window of histograms (``starts``: their start
    timestamps; None when unknown or for ``delta``)."""
    h = None
    if len(hs) > 1:
        h = _increase(hs, starts, counter, notes, name)
        if h is None:
            return None
    range_end = int(rd.tt[j])
    range_start = range_end - rd.rng
    first_t, last_t = int(ts[0]), int(ts[-1])
    n1 = len(ts) - 1
    to_start = (first_t - range_start) / 1000
    to_end = (range_end - last_t) / 1000
    sampled = (last_t - first_t) / 1000
    avg = sampled / n1 if n1 else 0.0
    thr = avg * 1.1
    st0 = int(starts.sts[0]) if starts is not None else 0
    if st0 != 0 and range_start < st0 < first_t:
        # A zero sample at the first sample's start time replaces extrapolation to the left.
        to_start = 0.0
        sampled = (last_t - st0) / 1000
        h = hs[0].copy() if h is None else _combine(h, hs[0], 1.0, notes, name)
        if h is None:
            return None
    elif h is None:
        return None  # a single sample without a usable start time
    else:
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


def _increase(hs: list[FH], starts: _Starts | None, counter: bool, notes: Notes,
              name: str) -> FH | None:
    """Prometheus's ``histogramRate``: last minus first, resets added back (by the
    histograms or by their start times); None when the histograms cannot be combined."""
    st_reset_at = starts.reset.tolist() if starts is not None else [False] * len(hs)
    prev = hs[0]
    last = hs[-1]
    custom = prev.custom
    if counter and (prev.hint == CounterResetHint.GAUGE or last.hint == CounterResetHint.GAUGE):
        notes.not_counter(name)
    if counter and (st_reset_at[1] or nhist.detect_reset(hs[1], prev)):
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
    h = _combine(nhist.reduced(last, min_schema), prev, -1.0, notes, name)
    if h is None:
        return None
    if counter:
        if starts is not None and starts.overlap[1:].any():
            notes.st_overlap(name)
        p = prev
        for k in range(1, len(hs)):
            cur = hs[k]
            if st_reset_at[k] or nhist.detect_reset(cur, p):
                h = _combine(h, p, 1.0, notes, name)
                if h is None:
                    return None
            p = cur
    elif hs[0].hint != CounterResetHint.GAUGE or hs[-1].hint != CounterResetHint.GAUGE:
        notes.not_gauge(name)
    h.hint = CounterResetHint.GAUGE
    return h


class _Window(NamedTuple):
    """One kind of sample in a window: times, values, start times (0 = unknown)."""

    ts: np.ndarray
    vals: Any
    sts: np.ndarray | None


def _instant(fw: _Window, hw: _Window, is_rate: bool, notes: Notes, name: str,
             out: np.ndarray, ok: np.ndarray, i: int, j: int) -> FH | None:
    """Prometheus's ``instantValue`` over a window's last two samples, floats and
    histograms together (a float result goes to ``out``)."""
    pts: list[tuple[int, float | FH, int]] = []
    for w, conv in ((fw, float), (hw, None)):
        k = max(0, len(w.ts) - 2)
        sts = _starts(w.sts[k:] if is_rate and w.sts is not None else None, len(w.ts) - k)
        pts += [(int(t), conv(v) if conv else v, st)
                for t, v, st in zip(w.ts[k:], w.vals[k:], sts, strict=True)]
    pts.sort(key=lambda p: p[0])
    if len(pts) < 2:
        return None
    (t0, v0, st0), (t1, v1, st1) = pts[-2], pts[-1]
    dt = (t1 - t0) / 1000
    if dt == 0:
        return None
    reset = is_rate and st1 != 0 and bool(st_reset(st0, t0, st1, t1))  # 0: unknown
    if isinstance(v0, float) and isinstance(v1, float):
        r = v1 if is_rate and (v1 < v0 or reset) else v1 - v0
        out[i, j], ok[i, j] = (r / dt if is_rate else r), True
        return None
    if isinstance(v0, float) or isinstance(v1, float):
        notes.mixed(name)
        return None
    if is_rate and CounterResetHint.GAUGE in (v0.hint, v1.hint):
        notes.not_counter(name)
    if not is_rate and (v0.hint != CounterResetHint.GAUGE or v1.hint != CounterResetHint.GAUGE):
        notes.not_gauge(name)
    h: FH | None = v1.copy()
    if not is_rate or not (reset or nhist.detect_reset(v1, v0)):
        h = _combine(v1, v0, -1.0, notes, name)
        if h is None:
            return None
    h.hint = CounterResetHint.GAUGE
    return h.divided(dt) if is_rate else h


def count_changes(pts: list[tuple[int, float | FH, int]], resets: bool) -> float:
    """``changes``/``resets`` over time-ordered ``(time, float or histogram, start time)``
    points; with ``resets`` a start time past the previous sample's is a reset too."""
    n = 0
    for (ta, a, sa), (tb, b, sb) in itertools.pairwise(pts):
        fa, fb = isinstance(a, float), isinstance(b, float)
        if fa != fb or (resets and sb != 0 and st_reset(sa, ta, sb, tb)):  # 0: unknown
            n += 1
        elif fa and fb:
            if resets:
                n += b < a  # type: ignore[operator]
            else:
                n += a != b and not (a != a and b != b)
        elif resets:
            n += nhist.detect_reset(b, a)  # type: ignore[arg-type]
        else:
            n += not nhist.equal(a, b)  # type: ignore[arg-type]
    return float(n)
