"""Numba kernels for ``*_over_time`` and the counter functions.

Each kernel takes every selected series at once as flat arrays (``ts``,
``vals``) plus, per output cell (series x step), the window ``[lo, hi)`` of
sample indices, and fills ``out``/``ok``. One compiled loop over all cells
replaces a Python loop per step, and lets us copy Prometheus's numerics
(Kahan summation, incremental mean) exactly, which the conformance scripts
check to 1e-6 relative.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["KERNELS", "extrapolated", "instant_points", "range_windows", "run"]

_cache = True


@njit(cache=_cache, nogil=True)
def range_windows(ts, offs, tt, back, ahead, lo, hi):  # type: ignore[no-untyped-def]
    """Per series ``i`` (samples ``ts[offs[i]:offs[i+1]]``, sorted) and step ``j``: the
    sample indices ``[lo, hi)`` of the window ``(tt[j] - back, tt[j] + ahead]``, by one
    forward walk per series (steps ascend). Returns the largest window of each series."""
    n = offs.shape[0] - 1
    widest = np.zeros(n, dtype=np.int64)
    for i in range(n):
        a = offs[i]
        b = offs[i]
        end = offs[i + 1]
        w = 0
        for j in range(tt.shape[0]):
            while a < end and ts[a] <= tt[j] - back:
                a += 1
            if b < a:
                b = a
            while b < end and ts[b] <= tt[j] + ahead:
                b += 1
            lo[i, j] = a
            hi[i, j] = b
            if b - a > w:
                w = b - a
        widest[i] = w
    return widest


@njit(cache=_cache, nogil=True)
def instant_points(ts, vbits, offs, tt, lookback, stale_bits, values, present):  # type: ignore[no-untyped-def]
    """Per series and step, the newest sample at or before ``tt[j]`` and after
    ``tt[j] - lookback`` unless it is a staleness marker (Prometheus's vector selector)."""
    for i in range(offs.shape[0] - 1):
        p = offs[i]
        end = offs[i + 1]
        for j in range(tt.shape[0]):
            while p < end and ts[p] <= tt[j]:
                p += 1
            if p > offs[i] and ts[p - 1] > tt[j] - lookback and vbits[p - 1] != stale_bits:
                values[i, j] = vbits[p - 1]
                present[i, j] = True


@njit(cache=_cache, inline="always")
def _kahan(s: float, c: float, v: float) -> tuple[float, float]:
    t = s + v
    if math.isinf(t):
        c = 0.0
    elif abs(s) >= abs(v):
        c += (s - t) + v
    else:
        c += (v - t) + s
    return t, c


@njit(cache=_cache, nogil=True)
def k_sum(ts, vals, lo, hi, tt, rng, p1, p2, out, ok):
    for i in range(lo.shape[0]):
        for j in range(lo.shape[1]):
            a, b = lo[i, j], hi[i, j]
            if b <= a:
                continue
            s, c = 0.0, 0.0
            for k in range(a, b):
                s, c = _kahan(s, c, vals[k])
            out[i, j] = s + c if not math.isinf(s) else s
            ok[i, j] = True


@njit(cache=_cache, nogil=True)
def k_avg(ts, vals, lo, hi, tt, rng, p1, p2, out, ok):
    for i in range(lo.shape[0]):
        for j in range(lo.shape[1]):
            a, b = lo[i, j], hi[i, j]
            if b <= a:
                continue
            n = b - a
            if n == 1:
                out[i, j] = vals[a]
                ok[i, j] = True
                continue
            s, c = 0.0, 0.0
            incremental = False
            mean, cm = 0.0, 0.0
            cnt = 0.0
            for k in range(a, b):
                v = vals[k]
                cnt += 1.0
                if not incremental:
                    ns, nc = _kahan(s, c, v)
                    if not math.isinf(ns) or math.isinf(v):
                        s, c = ns, nc
                        continue
                    incremental = True
                    mean = s / (cnt - 1.0)
                    cm = c / (cnt - 1.0)
                if math.isinf(mean):
                    if math.isinf(v) and (mean > 0) == (v > 0):
                        continue
                    if not math.isinf(v) and not math.isnan(v):
                        continue
                q = (cnt - 1.0) / cnt
                mean, cm = _kahan(mean * q, cm * q, v / cnt)
            if incremental:
                out[i, j] = mean + cm
            else:
                out[i, j] = (s + c) / cnt if not math.isinf(s) else s / cnt
            ok[i, j] = True


@njit(cache=_cache, nogil=True)
def k_count(ts, vals, lo, hi, tt, rng, p1, p2, out, ok):
    for i in range(lo.shape[0]):
        for j in range(lo.shape[1]):
            n = hi[i, j] - lo[i, j]
            if n > 0:
                out[i, j] = n
                ok[i, j] = True


@njit(cache=_cache, nogil=True)
def k_present(ts, vals, lo, hi, tt, rng, p1, p2, out, ok):
    for i in range(lo.shape[0]):
        for j in range(lo.shape[1]):
            if hi[i, j] > lo[i, j]:
                out[i, j] = 1.0
                ok[i, j] = True


@njit(cache=_cache, nogil=True)
def k_last(ts, vals, lo, hi, tt, rng, p1, p2, out, ok):
    for i in range(lo.shape[0]):
        for j in range(lo.shape[1]):
            if hi[i, j] > lo[i, j]:
                out[i, j] = vals[hi[i, j] - 1]
                ok[i, j] = True


@njit(cache=_cache, nogil=True)
def k_first(ts, vals, lo, hi, tt, rng, p1, p2, out, ok):
    for i in range(lo.shape[0]):
        for j in range(lo.shape[1]):
            if hi[i, j] > lo[i, j]:
                out[i, j] = vals[lo[i, j]]
                ok[i, j] = True


@njit(cache=_cache, nogil=True)
def k_ts_last(ts, vals, lo, hi, tt, rng, p1, p2, out, ok):
    for i in range(lo.shape[0]):
        for j in range(lo.shape[1]):
            if hi[i, j] > lo[i, j]:
                out[i, j] = ts[hi[i, j] - 1] / 1000.0
                ok[i, j] = True


@njit(cache=_cache, nogil=True)
def k_ts_first(ts, vals, lo, hi, tt, rng, p1, p2, out, ok):
    for i in range(lo.shape[0]):
        for j in range(lo.shape[1]):
            if hi[i, j] > lo[i, j]:
                out[i, j] = ts[lo[i, j]] / 1000.0
                ok[i, j] = True


@njit(cache=_cache, nogil=True)
def k_minmax(ts, vals, lo, hi, tt, rng, p1, p2, out, ok):
    # p2: 0 min, 1 max, 2 ts of min, 3 ts of max (last one wins ties)
    want_max = p2 == 1 or p2 == 3
    want_ts = p2 >= 2
    for i in range(lo.shape[0]):
        for j in range(lo.shape[1]):
            a, b = lo[i, j], hi[i, j]
            if b <= a:
                continue
            best = vals[a]
            bt = ts[a]
            for k in range(a + 1, b):
                v = vals[k]
                if want_max:
                    better = v > best or math.isnan(best)
                    tie = v == best
                else:
                    better = v < best or math.isnan(best)
                    tie = v == best
                if better or (want_ts and tie):
                    best = v
                    bt = ts[k]
            out[i, j] = bt / 1000.0 if want_ts else best
            ok[i, j] = True


@njit(cache=_cache, nogil=True)
def k_var(ts, vals, lo, hi, tt, rng, p1, p2, out, ok):
    # p2 > 0: stddev, else stdvar (Welford with Kahan, as Prometheus)
    for i in range(lo.shape[0]):
        for j in range(lo.shape[1]):
            a, b = lo[i, j], hi[i, j]
            if b <= a:
                continue
            cnt = 0.0
            mean, cm = 0.0, 0.0
            aux, ca = 0.0, 0.0
            for k in range(a, b):
                v = vals[k]
                cnt += 1.0
                delta = v - (mean + cm)
                mean, cm = _kahan(mean, cm, delta / cnt)
                aux, ca = _kahan(aux, ca, delta * (v - (mean + cm)))
            var = (aux + ca) / cnt
            out[i, j] = math.sqrt(var) if p2 > 0 else var
            ok[i, j] = True


@njit(cache=_cache, nogil=True)
def nan_first_sort(v):
    xs = np.sort(v)
    n = 0
    for k in range(xs.shape[0]):
        if math.isnan(xs[xs.shape[0] - 1 - k]):
            n += 1
        else:
            break
    if n == 0:
        return xs
    return np.concatenate((xs[xs.shape[0] - n:], xs[:xs.shape[0] - n]))


@njit(cache=_cache, nogil=True)
def _quantile_sorted(xs, q):
    n = xs.shape[0]
    if n == 0:
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    rank = q * (n - 1)
    lower = max(0, math.floor(rank))
    upper = min(n - 1, lower + 1)
    w = rank - math.floor(rank)
    return xs[lower] * (1 - w) + xs[upper] * w


@njit(cache=_cache, nogil=True)
def k_quantile(ts, vals, lo, hi, tt, rng, p1, p2, out, ok):
    for i in range(lo.shape[0]):
        for j in range(lo.shape[1]):
            a, b = lo[i, j], hi[i, j]
            if b <= a:
                continue
            xs = nan_first_sort(vals[a:b])
            out[i, j] = _quantile_sorted(xs, p1[j])
            ok[i, j] = True


@njit(cache=_cache, nogil=True)
def k_mad(ts, vals, lo, hi, tt, rng, p1, p2, out, ok):
    for i in range(lo.shape[0]):
        for j in range(lo.shape[1]):
            a, b = lo[i, j], hi[i, j]
            if b <= a:
                continue
            if np.isnan(vals[a:b]).any():
                out[i, j] = math.nan
                ok[i, j] = True
                continue
            xs = nan_first_sort(vals[a:b])
            med = _quantile_sorted(xs, 0.5)
            d = nan_first_sort(np.abs(xs - med))
            out[i, j] = _quantile_sorted(d, 0.5)
            ok[i, j] = True


@njit(cache=_cache, nogil=True)
def k_changes(ts, vals, lo, hi, tt, rng, p1, p2, out, ok):
    # p2 > 0: resets instead of changes
    for i in range(lo.shape[0]):
        for j in range(lo.shape[1]):
            a, b = lo[i, j], hi[i, j]
            if b <= a:
                continue
            n = 0
            for k in range(a + 1, b):
                cur, prev = vals[k], vals[k - 1]
                if p2 > 0:
                    if cur < prev:
                        n += 1
                elif cur != prev and not (math.isnan(cur) and math.isnan(prev)):
                    n += 1
            out[i, j] = n
            ok[i, j] = True


@njit(cache=_cache, nogil=True)
def k_extrapolated(ts, vals, lo, hi, tt, rng, p1, p2, out, ok):
    # p2: 0 delta, 1 increase, 2 rate (Prometheus's extrapolatedRate)
    is_counter = p2 >= 1
    for i in range(lo.shape[0]):
        for j in range(lo.shape[1]):
            a, b = lo[i, j], hi[i, j]
            if b - a < 2:
                continue
            first_v, last_v = vals[a], vals[b - 1]
            result = last_v - first_v
            if is_counter:
                prev = first_v
                for k in range(a + 1, b):
                    if vals[k] < prev:
                        result += prev
                    prev = vals[k]
            range_end = tt[j]
            range_start = range_end - rng
            dur_start = (ts[a] - range_start) / 1000.0
            dur_end = (range_end - ts[b - 1]) / 1000.0
            sampled = (ts[b - 1] - ts[a]) / 1000.0
            avg_interval = sampled / (b - a - 1)
            threshold = avg_interval * 1.1
            if dur_start >= threshold:
                dur_start = avg_interval / 2
            if is_counter and result > 0 and first_v >= 0:
                dur_zero = sampled * (first_v / result)
                if dur_zero < dur_start:
                    dur_start = dur_zero
            if dur_end >= threshold:
                dur_end = avg_interval / 2
            ext = sampled + dur_start + dur_end
            factor = ext / sampled
            if p2 == 2:
                factor /= rng / 1000.0
            out[i, j] = result * factor
            ok[i, j] = True


@njit(cache=_cache, nogil=True)
def k_instant(ts, vals, lo, hi, tt, rng, p1, p2, out, ok):
    # p2: 0 idelta, 1 irate
    for i in range(lo.shape[0]):
        for j in range(lo.shape[1]):
            a, b = lo[i, j], hi[i, j]
            if b - a < 2:
                continue
            last, prev = vals[b - 1], vals[b - 2]
            if p2 == 1:
                r = last if last < prev else last - prev
                dt = (ts[b - 1] - ts[b - 2]) / 1000.0
                if dt == 0:
                    continue
                out[i, j] = r / dt
            else:
                out[i, j] = last - prev
            ok[i, j] = True


@njit(cache=_cache, nogil=True)
def k_linreg(ts, vals, lo, hi, tt, rng, p1, p2, out, ok):
    # p2: 0 deriv (slope), 1 predict_linear (p1[j] seconds ahead)
    for i in range(lo.shape[0]):
        for j in range(lo.shape[1]):
            a, b = lo[i, j], hi[i, j]
            if b - a < 2:
                continue
            intercept_t = tt[j] if p2 == 1 else ts[a]
            n = 0.0
            sx, cx, sy, cy, sxy, cxy, sx2, cx2 = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
            const_y = True
            y0 = vals[a]
            for k in range(a, b):
                if vals[k] != y0:
                    const_y = False
                x = (ts[k] - intercept_t) / 1000.0
                y = vals[k]
                n += 1.0
                sx, cx = _kahan(sx, cx, x)
                sy, cy = _kahan(sy, cy, y)
                sxy, cxy = _kahan(sxy, cxy, x * y)
                sx2, cx2 = _kahan(sx2, cx2, x * x)
            if const_y and not math.isinf(y0):
                slope, icpt = 0.0, y0
            else:
                sx += cx
                sy += cy
                sxy += cxy
                sx2 += cx2
                cov = sxy - sx * sy / n
                varx = sx2 - sx * sx / n
                slope = cov / varx
                icpt = sy / n - slope * sx / n
            if p2 == 1:
                out[i, j] = slope * p1[j] + icpt
            else:
                out[i, j] = slope
            ok[i, j] = True


@njit(cache=_cache, nogil=True)
def k_des(ts, vals, lo, hi, tt, rng, p1, p2, out, ok):
    # double exponential smoothing: p1[j] = smoothing factor, p2 = trend factor
    for i in range(lo.shape[0]):
        for j in range(lo.shape[1]):
            a, b = lo[i, j], hi[i, j]
            if b - a < 2:
                continue
            sf = p1[j]
            tf = p2
            s0 = 0.0
            s1 = vals[a]
            tr = vals[a + 1] - vals[a]
            for k in range(a + 1, b):
                x = sf * vals[k]
                if k - a - 1 != 0:
                    tr = tf * (s1 - s0) + (1 - tf) * tr
                y = (1 - sf) * (s1 + tr)
                s0 = s1
                s1 = x + y
            out[i, j] = s1
            ok[i, j] = True


KERNELS = {
    "sum_over_time": (k_sum, 0), "avg_over_time": (k_avg, 0),
    "count_over_time": (k_count, 0), "present_over_time": (k_present, 0),
    "last_over_time": (k_last, 0), "first_over_time": (k_first, 0),
    "ts_of_last_over_time": (k_ts_last, 0), "ts_of_first_over_time": (k_ts_first, 0),
    "max_over_time": (k_minmax, 1), "min_over_time": (k_minmax, 0),
    "ts_of_max_over_time": (k_minmax, 3), "ts_of_min_over_time": (k_minmax, 2),
    "stddev_over_time": (k_var, 1), "stdvar_over_time": (k_var, 0),
    "quantile_over_time": (k_quantile, 0), "mad_over_time": (k_mad, 0),
    "changes": (k_changes, 0), "resets": (k_changes, 1),
    "delta": (k_extrapolated, 0), "increase": (k_extrapolated, 1),
    "rate": (k_extrapolated, 2), "idelta": (k_instant, 0), "irate": (k_instant, 1),
    "deriv": (k_linreg, 0), "predict_linear": (k_linreg, 1),
    "double_exponential_smoothing": (k_des, 0),
}


def warm_up() -> None:
    """Load (or compile) every kernel once, so the first real query does not pay for it."""
    ts = np.arange(4, dtype=np.int64) * 1000
    vals = np.arange(4, dtype=np.float64)
    lo = np.zeros((1, 1), dtype=np.int64)
    hi = np.full((1, 1), 4, dtype=np.int64)
    tt = np.array([4000], dtype=np.int64)
    for name in KERNELS:
        p2 = 0.5 if name == "double_exponential_smoothing" else None
        run(name, ts, vals, lo, hi, tt, 4000, np.full(1, 0.5), p2)


def extrapolated(name: str) -> bool:
    return name in ("delta", "increase", "rate")


def run(name: str, ts: np.ndarray, vals: np.ndarray, lo: np.ndarray, hi: np.ndarray,
        tt: np.ndarray, rng: int, p1: np.ndarray | None = None,
        p2: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Apply range function ``name`` to every window; returns ``(values, present)``."""
    kern, default_p2 = KERNELS[name]
    out = np.zeros(lo.shape, dtype=np.float64)
    ok = np.zeros(lo.shape, dtype=np.bool_)
    if p1 is None:
        p1 = np.zeros(lo.shape[1], dtype=np.float64)
    if p2 is None:
        p2 = float(default_p2)
    if lo.size:
        kern(ts, vals, lo, hi, tt, rng, p1, p2, out, ok)
    return out, ok
