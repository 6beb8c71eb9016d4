"""``anchored`` and ``smoothed`` selectors (experimental in Prometheus 3).

``anchored`` ranges also see the last sample at or before the range start,
so ``increase`` measures from it instead of extrapolating; ``smoothed``
ranges (and instant selectors) interpolate linearly at the range boundaries.
The windows handed to us already include the extra lookback on each side;
these loops are plain Python, as the modifiers are rare.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tidewell.model import CounterResetHint, Labels
from tidewell.promql import nhist
from tidewell.promql import nodes as ast
from tidewell.promql.context import drop_stale, select_series
from tidewell.promql.errors import ExecutionError
from tidewell.promql.hrange import Notes, count_changes
from tidewell.promql.nhist import FH, HistError, histogram_points
from tidewell.promql.values import Block, RangeData

__all__ = ["check_modifier", "extend_floats", "run_extended", "run_extended_histograms",
           "smoothed_selector"]

_ANCHORED = ("changes", "delta", "increase", "rate", "resets")
_SMOOTHED = ("delta", "increase", "rate")


def check_modifier(func: str, rd: RangeData) -> None:
    if rd.anchored and func not in _ANCHORED:
        raise ExecutionError("anchored modifier can only be used with: "
                             f"{', '.join(_ANCHORED)} - not with {func}")
    if rd.smoothed and func not in _SMOOTHED:
        raise ExecutionError("smoothed modifier can only be used with: "
                             f"{', '.join(_SMOOTHED)} - not with {func}")


def _interp(t1: int, y1: float, t2: int, y2: float, t: int, counter: bool) -> float:
    if counter and y2 < y1:
        y1 = 0.0
    return y1 + (y2 - y1) * (t - t1) / (t2 - t1)


def _first_after(ts: np.ndarray, n: int, t: int) -> int:
    """sort.Search(n, ts[i] > t)."""
    return int(np.searchsorted(ts[:n], t, side="right"))


def _extended_rate(ts: np.ndarray, vs: np.ndarray, start: int, end: int, smoothed: bool,
                   counter: bool, rate: bool, rng: int) -> float | None:
    n = len(ts)
    last = n - 1
    first = max(0, _first_after(ts, last, start) - 1)
    if smoothed:
        last = int(np.searchsorted(ts[:last], end, side="left"))
    if ts[last] <= start:
        return None
    if smoothed and ts[first] > end:
        return None
    left = vs[first]
    if smoothed and ts[first] < start:
        left = _interp(ts[first], vs[first], ts[first + 1], vs[first + 1], start, counter)
    right = vs[last]
    if smoothed and last > 0 and ts[last] > end:
        right = _interp(ts[last - 1], vs[last - 1], ts[last], vs[last], end, counter)
    result = right - left
    if counter:
        if ts[first] <= start:
            first += 1
        if ts[last] >= end:
            last -= 1
        corr, prev = 0.0, left
        for k in range(first, last + 1):
            if vs[k] < prev:
                corr += prev
            prev = vs[k]
        if right < prev:
            corr += prev
        result += corr
    if rate:
        result /= rng / 1000.0
    return float(result)


def run_extended(func: str, rd: RangeData) -> tuple[np.ndarray, np.ndarray]:
    n, T = rd.lo.shape
    out = np.zeros((n, T))
    ok = np.zeros((n, T), dtype=bool)
    for i in range(n):
        for j in range(T):
            a, b = int(rd.lo[i, j]), int(rd.hi[i, j])
            if b <= a:
                continue
            ts, vs = rd.ts[a:b], rd.vals[a:b]
            end = int(rd.tt[j])
            start = end - rd.rng
            if func in ("rate", "increase", "delta"):
                v = _extended_rate(ts, vs, start, end, rd.smoothed, func != "delta",
                                   func == "rate", rd.rng)
                if v is None:
                    continue
            else:  # changes / resets, anchored
                le = _first_after(ts, len(ts), start) - 1
                if le + 1 >= len(ts):
                    continue
                k0 = max(le, 0)
                cnt = 0
                for k in range(k0 + 1, len(ts)):
                    cur, prev = vs[k], vs[k - 1]
                    if func == "resets":
                        cnt += cur < prev
                    elif cur != prev and not (math.isnan(cur) and math.isnan(prev)):
                        cnt += 1
                v = float(cnt)
            out[i, j] = v
            ok[i, j] = True
    return out, ok


def extend_floats(ts: np.ndarray, vs: np.ndarray, mint: int, maxt: int,
                  smoothed: bool) -> tuple[np.ndarray, np.ndarray]:
    """The samples an anchored/smoothed range shows: boundary points plus those inside."""
    if len(ts) == 0:
        return ts, vs
    last = len(ts) - 1
    first = max(0, _first_after(ts, last, mint) - 1)
    if smoothed:
        last = int(np.searchsorted(ts[:last], maxt, side="left"))
    if ts[last] <= mint:
        return ts[:0], vs[:0]
    left = vs[first]
    if smoothed and ts[first] < mint:
        left = _interp(ts[first], vs[first], ts[first + 1], vs[first + 1], mint, False)
    right = vs[last]
    if smoothed and last > 0 and ts[last] > maxt:
        right = _interp(ts[last - 1], vs[last - 1], ts[last], vs[last], maxt, False)
    if ts[first] <= mint:
        first += 1
    if ts[last] >= maxt:
        last -= 1
    mid_t, mid_v = ts[first:last + 1], vs[first:last + 1]
    return (np.concatenate([[mint], mid_t, [maxt]]).astype(np.int64),
            np.concatenate([[left], mid_v, [right]]))


def smoothed_selector(ev: Any, node: ast.VectorSelector, tt: np.ndarray) -> Block:

    lb = ev.ctx.opts.lookback_delta_ms
    if node.anchored:
        raise ExecutionError("anchored modifier is only allowed on range selectors")
    series = select_series(ev.ctx, node.matchers, int(tt.min()) - lb + 1, int(tt.max()) + lb)
    labels: list[Labels] = []
    vals = np.zeros((len(series), ev.T))
    pres = np.zeros((len(series), ev.T), dtype=bool)
    hist = None
    notes = Notes(ev, node)
    for r, s in enumerate(series):
        labels.append(s.labels)
        ts, vs = drop_stale(s)
        hts, hvs = histogram_points(s)
        for j, t in enumerate(tt.tolist()):
            a = int(np.searchsorted(ts, t - lb, side="right"))
            b = int(np.searchsorted(ts, t + lb, side="right"))
            ha = int(np.searchsorted(hts, t - lb, side="right"))
            hb = int(np.searchsorted(hts, t + lb, side="right"))
            if hb > ha:
                if b > a:
                    notes.mixed(s.labels.name)
                    continue
                h = _smoothed_histogram(notes, s.labels.name, hts[ha:hb], hvs[ha:hb], t)
                if h is not None:
                    if hist is None:
                        hist = np.full((len(series), ev.T), None, dtype=object)
                    hist[r, j], pres[r, j] = h, True
                continue
            if b <= a:
                continue
            wt, wv = ts[a:b], vs[a:b]
            i = int(np.searchsorted(wt, t, side="left"))
            if i < len(wt) and wt[i] == t:
                v = wv[i]
            elif 0 < i < len(wt):
                v = _interp(int(wt[i - 1]), wv[i - 1], int(wt[i]), wv[i], t, False)
            elif i > 0:
                v = wv[i - 1]
            else:
                continue
            vals[r, j] = v
            pres[r, j] = True
    return Block(labels, vals, pres, hist=hist).compact()


def _smoothed_histogram(notes: Notes, name: str, ts: np.ndarray, hs: list[FH],
                        t: int) -> FH | None:
    """A smoothed instant selector's histogram at ``t`` from the samples around it."""
    i = int(np.searchsorted(ts, t, side="left"))
    if i < len(ts) and ts[i] == t:
        return hs[i].copy()
    if 0 < i < len(ts):
        prev, nxt = hs[i - 1], hs[i]
        if prev.custom != nxt.custom:
            notes.mixed_schemas(name)
            return None
        counter = (prev.hint != CounterResetHint.GAUGE or nxt.hint != CounterResetHint.GAUGE)
        try:
            return _interp_hist(prev, int(ts[i - 1]), nxt, int(ts[i]), t, counter)
        except HistError:
            notes.mixed_schemas(name)
            return None
    if i > 0:  # carried forward: the hint described the step from its predecessor
        h = hs[i - 1].copy()
        h.hint = CounterResetHint.UNKNOWN
        return h
    return None


def _interp_hist(h1: FH, t1: int, h2: FH, t2: int, t: int, counter: bool) -> FH:
    """``interpolateHistograms``: the value at ``t`` on the line from ``h1`` to ``h2``."""
    if t == t1:
        return h1.copy()
    if t == t2:
        return h2.copy()
    frac = (t - t1) / (t2 - t1)
    if counter and nhist.detect_reset(h2, h1):
        return h2.scaled(frac)
    return nhist.add(nhist.add(h2, h1, -1.0).h.scaled(frac), h1).h


def _hist_rate(notes: Notes, name: str, ts: np.ndarray, hs: list[FH], start: int, end: int,
               smoothed: bool, counter: bool, rate: bool, rng: int) -> FH | None:
    """Prometheus's ``extendedHistogramRate`` for one window."""
    last = len(hs) - 1
    first = max(0, _first_after(ts, last, start) - 1)
    if smoothed:
        last = int(np.searchsorted(ts[:last], end, side="left"))
    if ts[last] <= start or (smoothed and ts[first] > end):
        return None
    window = hs[first:last + 1]
    if any(h.custom != window[0].custom for h in window):
        notes.mixed_schemas(name)
        return None
    if counter and any(h.hint == CounterResetHint.GAUGE for h in window):
        notes.not_counter(name)
    try:
        left = hs[first].copy()
        if smoothed and ts[first] < start:
            left = _interp_hist(hs[first], int(ts[first]), hs[first + 1], int(ts[first + 1]),
                                start, counter)
        right = hs[last].copy()
        if smoothed and last > 0 and ts[last] > end:
            right = _interp_hist(hs[last - 1], int(ts[last - 1]), hs[last], int(ts[last]), end,
                                 counter)
        if not counter and (left.hint != CounterResetHint.GAUGE
                            or right.hint != CounterResetHint.GAUGE):
            notes.not_gauge(name)
        r = nhist.add(right, left, -1.0)
        if r.reconciled:
            notes.reconciled("subtraction")
        result = r.h
        if counter:
            k0 = first + 1
            prev = left
            if smoothed and ts[first] < start and nhist.detect_reset(hs[first + 1], hs[first]):
                prev = hs[first + 1]
                k0 += 1
            corr: FH | None = None
            for h in [*hs[k0:last], right] if k0 <= last else []:
                if nhist.detect_reset(h, prev):
                    corr = prev.copy() if corr is None else nhist.add(corr, prev).h
                prev = h
            if corr is not None:
                r = nhist.add(result, corr)
                if r.reconciled:
                    notes.reconciled("addition")
                result = r.h
    except HistError:
        notes.mixed_schemas(name)
        return None
    if rate:
        result = result.divided(rng / 1000.0)
    result.hint = CounterResetHint.GAUGE
    return result


def run_extended_histograms(ev: Any, node: ast.Call, func: str, rd: RangeData,
                            out: np.ndarray, ok: np.ndarray) -> np.ndarray | None:
    """The windows of an anchored/smoothed range that hold histograms."""
    assert rd.hist is not None and rd.hlo is not None and rd.hhi is not None
    notes = Notes(ev, node.args[0])
    res = np.full(out.shape, None, dtype=object)
    for i, j in zip(*np.nonzero(rd.hhi > rd.hlo), strict=True):
        hts, hvals = rd.hist[i]
        a, b = int(rd.hlo[i, j]), int(rd.hhi[i, j])
        fa, fb = int(rd.lo[i, j]), int(rd.hi[i, j])
        name = rd.labels[i].name
        end = int(rd.tt[j])
        start = end - rd.rng
        if func in ("changes", "resets"):
            # Anchored/smoothed ranges ignore start timestamps (0 = unknown), floats too.
            pts = sorted([*((t, v, 0) for t, v in zip(rd.ts[fa:fb].tolist(),
                                                       rd.vals[fa:fb].tolist(), strict=True)),
                          *((t, h, 0) for t, h in zip(hts[a:b].tolist(), hvals[a:b],
                                                       strict=True))],
                         key=lambda p: p[0])
            le = int(np.searchsorted([p[0] for p in pts], start, side="right")) - 1
            ok[i, j] = False
            if le + 1 >= len(pts):
                continue
            rest = pts[max(le, 0):]
            out[i, j], ok[i, j] = count_changes(rest, func == "resets"), True
            continue
        ok[i, j] = False
        if fb > fa:
            notes.mixed(name)
            continue
        h = _hist_rate(notes, name, hts[a:b], hvals[a:b], start, end, rd.smoothed,
                       func != "delta", func == "rate", rd.rng)
        if h is not None:
            res[i, j], ok[i, j] = h, True
    return res if any(x is not None for x in res.flat) else None
