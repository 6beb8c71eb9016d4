"""The trim operators ``h </ x`` and ``h >/ x``: keep the observations of a native
histogram below (above) ``x``, interpolating inside the bucket ``x`` falls in
(Prometheus's ``FloatHistogram.TrimBuckets``)."""

from __future__ import annotations

import math

from tidewell.promql.nhist import FH, HistogramBucket, fraction_below

__all__ = ["trim"]


def _midpoint(lo: float, hi: float, positive: bool, linear: bool) -> float:
    if math.isinf(lo):
        if math.isinf(hi):
            return 0.0
        return hi / 2 if hi > 0 else hi
    if math.isinf(hi):
        return lo
    if linear:
        return (lo + hi) / 2
    g = math.sqrt(abs(lo * hi))
    return g if positive else -g


def _split(b: HistogramBucket, rhs: float, linear: bool) -> float:
    if rhs <= b.lower:
        return 0.0
    if rhs >= b.upper:
        return b.count
    return b.count * fraction_below(b.lower, b.upper, rhs, linear)


def _zero_if_inf(x: float) -> float:
    return 0.0 if math.isinf(x) else x


def _infinite(upper: bool, b: HistogramBucket, rhs: float) -> tuple[float, float]:
    if b.lower == -math.inf:
        if upper:
            if rhs >= b.upper:
                return b.count, 0.0
            if rhs > 0 and b.upper > 0 and not math.isinf(b.upper):
                return b.count * rhs / b.upper, rhs / 2
            if b.upper <= 0:
                return b.count, rhs
            return 0.0, _zero_if_inf(b.upper)
        if rhs <= b.lower:
            return b.count, 0.0
        if rhs >= 0 and b.upper > rhs and not math.isinf(b.upper):
            return b.count * (1 - rhs / b.upper), (rhs + b.upper) / 2
        return 0.0, _zero_if_inf(b.upper)
    if upper:
        return 0.0, _zero_if_inf(b.lower)
    if rhs >= b.lower:
        return b.count, rhs
    return 0.0, _zero_if_inf(b.lower)


def _bucket_trim(b: HistogramBucket, rhs: float, upper: bool, positive: bool,
                 custom: bool) -> tuple[float, float]:
    if math.isinf(b.lower) or math.isinf(b.upper):
        return _infinite(upper, b, rhs)
    under = _split(b, rhs, custom)
    if upper:
        return under, _midpoint(b.lower, rhs, positive, custom)
    return b.count - under, _midpoint(rhs, b.upper, positive, custom)


def _zero_trim(h: FH, rhs: float, has_neg: bool, has_pos: bool,
               upper: bool) -> tuple[float, float]:
    lo, hi = -h.zero_threshold, h.zero_threshold
    if has_neg and not has_pos:
        hi = 0.0
    if has_pos and not has_neg:
        lo = 0.0
    if upper:
        if rhs <= lo:
            return 0.0, 0.0
        if rhs >= hi:
            return h.zero_count, (lo + hi) / 2
        return h.zero_count * (rhs - lo) / (hi - lo), (lo + rhs) / 2
    if rhs <= lo:
        return h.zero_count, (lo + hi) / 2
    if rhs >= hi:
        return 0.0, 0.0
    return h.zero_count * (hi - rhs) / (hi - lo), (rhs + hi) / 2


def trim(h: FH, rhs: float, upper: bool) -> FH:
    """``h </ rhs`` (``upper``) or ``h >/ rhs``."""
    out = h.copy()
    count = total = 0.0
    trimmed = False
    seen = {True: False, False: False}
    for positive, d in ((True, out.pos), (False, out.neg)):
        for b in list(h.buckets(positive)):
            seen[positive] = True
            whole = b.upper <= rhs if upper else b.lower >= rhs
            part = b.lower < rhs if upper else b.upper > rhs
            if whole:
                count += b.count
                total += _midpoint(b.lower, b.upper, positive, h.custom) * b.count
            elif part:
                keep, mid = _bucket_trim(b, rhs, upper, positive, h.custom)
                count += keep
                total += mid * keep
                if d[b.index] != keep:
                    d[b.index] = keep
                    trimmed = True
            else:
                d[b.index] = 0.0
                trimmed = True
    if h.zero_count > 0:
        keep, mid = _zero_trim(h, rhs, seen[False], seen[True], upper)
        if keep != h.zero_count:
            out.zero_count = keep
            trimmed = True
        total += mid * keep
        count += keep
    if trimmed:
        out.count, out.sum = count, total
    return out
