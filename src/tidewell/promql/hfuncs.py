"""Functions of native histogram samples: ``histogram_count``/``sum``/``avg``/``stddev``/
``stdvar`` and the native halves of ``histogram_quantile(s)``/``histogram_fraction``.

Each visits only the (series, step) cells that hold a histogram; float
samples are ignored, as Prometheus does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from tidewell.model import Labels
from tidewell.promql import nodes as ast
from tidewell.promql.nhist import FH, HistogramBucket, fraction_below, kahan_inc
from tidewell.promql.values import Block

__all__ = ["Bound", "concat", "histogram_fraction", "histogram_quantile", "histogram_stat",
           "native_rows", "observations_between"]


def native_rows(ev: Any, b: Block, fn: Callable[[FH, int, Labels], float],
                labels_for: Callable[[Labels], Labels] = lambda lb: lb) -> Block:
    """A float Block of ``fn(histogram, step)`` for every histogram cell of ``b``."""
    hm = b.hist_mask()
    if hm is None:
        return Block.empty(ev.T)
    hm &= b.present
    if not hm.any():
        return Block.empty(ev.T)
    rows = np.flatnonzero(hm.any(axis=1))
    vals = np.zeros((len(rows), ev.T))
    pres = np.zeros((len(rows), ev.T), dtype=bool)
    for r, i in enumerate(rows):
        for j in np.flatnonzero(hm[i]):
            vals[r, j] = fn(b.hist[i, j], int(j), b.labels[i])
            pres[r, j] = True
    return Block([labels_for(b.labels[i]) for i in rows], vals, pres, [True] * len(rows))


def concat(ev: Any, parts: list[Block]) -> Block:
    parts = [p for p in parts if len(p)]
    if not parts:
        return Block.empty(ev.T)
    if len(parts) == 1:
        return parts[0]
    return Block([lb for p in parts for lb in p.labels], np.vstack([p.values for p in parts]),
                 np.vstack([p.present for p in parts]), [d for p in parts for d in p.drop_name])


def _variance(h: FH) -> float:
    mean = h.sum / h.count if h.count else math.nan
    var, c = 0.0, 0.0
    for b in h.all_buckets():
        if h.custom:
            val = (b.upper + b.lower) / 2.0
        elif b.lower <= 0 <= b.upper:
            val = 0.0
        else:
            val = math.sqrt(b.upper * b.lower)
            if b.upper < 0:
                val = -val
        d = val - mean
        var, c = kahan_inc(b.count * d * d, var, c)
    var += c
    return var / h.count if h.count else math.nan


def _div(a: float, b: float) -> float:
    with np.errstate(all="ignore"):
        return float(np.float64(a) / np.float64(b))


_STATS: dict[str, Callable[[FH], float]] = {
    "histogram_count": lambda h: h.count,
    "histogram_sum": lambda h: h.sum,
    "histogram_avg": lambda h: _div(h.sum, h.count),
    "histogram_stdvar": _variance,
    "histogram_stddev": lambda h: math.sqrt(v) if (v := _variance(h)) >= 0 else math.nan,
}


def histogram_stat(ev: Any, node: ast.Call) -> Block:
    fn = _STATS[node.func]
    return native_rows(ev, ev.eval(node.args[0]), lambda h, _j, _lb: fn(h))


# -- quantile and fraction ---------------------------------------------------------------
def quantile(q: float, h: FH, info: Callable[[str], None]) -> float:
    """Prometheus's ``HistogramQuantile`` for one histogram."""
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    if h.count == 0 or math.isnan(q):
        return math.nan
    buckets = h.all_buckets()
    nan_sum = math.isnan(h.sum)
    forward = nan_sum or q < 0.5
    order = buckets if forward else buckets[::-1]
    rank = q * h.count if forward else (1 - q) * h.count
    count = 0.0
    k = -1
    bucket = None
    for k, bk in enumerate(order):  # noqa: B007
        bucket = bk
        count += bk.count
        if count >= rank:
            break
    if bucket is None:
        bucket = HistogramBucket(0.0, 0.0, 0.0, 0)
    lower, upper = bucket.lower, bucket.upper
    if not h.custom and lower < 0 < upper:
        if not h.neg and h.pos:
            lower = 0.0
        elif not h.pos and h.neg:
            upper = 0.0
    elif h.custom:
        if lower == -math.inf:
            if upper <= 0:
                return upper
            lower = 0.0
        elif upper == math.inf:
            return lower
    count = min(count, h.count)
    if count < rank:
        if nan_sum:
            info("input to histogram_quantile has NaN observations, result is NaN")
            return math.nan
        return upper
    if forward:
        rank -= count - bucket.count
    else:
        rank = count - rank
    if nan_sum:
        total = count + sum(b.count for b in order[k + 1:])
        if total < h.count:
            info("input to histogram_quantile has NaN observations, result is skewed higher")
    fraction = rank / bucket.count
    if h.custom or (lower <= 0 <= upper):
        return lower + (upper - lower) * fraction
    log_lo = math.log2(abs(lower))
    log_up = math.log2(abs(upper))
    if lower > 0:
        return 2.0 ** (log_lo + (log_up - log_lo) * fraction)
    return -(2.0 ** (log_up + (log_lo - log_up) * (1 - fraction)))


Bound = tuple[float, float, float, float, bool]
"""One bucket for ``observations_between``: (lower, upper, observations below it, its
observations, whether to interpolate linearly inside it)."""


def observations_between(lo: float, hi: float, buckets: Iterable[Bound], total: float) -> float:
    """How many of ``total`` observations lie between ``lo`` and ``hi``: the rank search
    Prometheus's ``HistogramFraction`` (native) and ``BucketFraction`` (classic) share.

    A bound inside a bucket is interpolated (linearly, or exponentially between the
    bucket's bounds); a bound past the buckets, or a rank above ``total``, counts as
    ``total``.
    """
    lower_rank = upper_rank = None
    for b_lo, b_up, rank, count, linear in buckets:
        if lower_rank is None and b_lo >= lo:
            lower_rank = rank
        if upper_rank is None and b_lo >= hi:
            upper_rank = rank
        if lower_rank is not None and upper_rank is not None:
            break
        if lower_rank is None and b_lo < lo < b_up:
            lower_rank = _interpolate(lo, b_lo, b_up, rank, count, linear)
        if upper_rank is None and b_lo < hi < b_up:
            upper_rank = _interpolate(hi, b_lo, b_up, rank, count, linear)
        if lower_rank is not None and upper_rank is not None:
            break
    if lower_rank is None or lower_rank > total:
        lower_rank = total
    if upper_rank is None or upper_rank > total:
        upper_rank = total
    return upper_rank - lower_rank


def _interpolate(v: float, b_lo: float, b_up: float, rank: float, count: float,
                 linear: bool) -> float:
    if b_lo == -math.inf:
        return rank + count
    if linear:
        return rank + count * (v - b_lo) / (b_up - b_lo)
    return rank + count * fraction_below(b_lo, b_up, v, linear=False)


def _native_bounds(h: FH, buckets: list[HistogramBucket]) -> Iterator[Bound]:
    """``h``'s buckets for ``observations_between``; a zero bucket on a side with no
    buckets is cut at 0, and it and custom buckets interpolate linearly."""
    rank = 0.0
    for b in buckets:
        b_lo, b_up = b.lower, b.upper
        zero = b_lo <= 0 <= b_up
        if zero:
            if not h.neg and h.pos:
                b_lo = 0.0
            elif not h.pos and h.neg:
                b_up = 0.0
        yield b_lo, b_up, rank, b.count, h.custom or zero
        rank += b.count


def fraction(lo: float, hi: float, h: FH, info: Callable[[str], None]) -> float:
    """Prometheus's ``HistogramFraction`` for one histogram."""
    if h.count == 0 or math.isnan(lo) or math.isnan(hi):
        return math.nan
    if lo >= hi:
        return 0.0
    buckets = h.all_buckets()
    count = h.count
    if math.isnan(h.sum):
        count = sum(b.count for b in buckets)
        if count < h.count:
            info("input to histogram_fraction has NaN observations, which are excluded from "
                 "all fractions")
    return observations_between(lo, hi, _native_bounds(h, buckets), count) / h.count


def _for_name(lb: Labels) -> str:
    """Prometheus's ``maybeAddMetricName`` suffix."""
    name = lb.name
    return f' for metric name "{name}"' if name else ""


def histogram_quantile(ev: Any, b: Block, q: np.ndarray, arg: ast.Expr,
                       labels_for: Callable[[Labels], Labels] = lambda lb: lb) -> Block:
    def fn(h: FH, j: int, lb: Labels) -> float:
        return quantile(float(q[j]), h, lambda m: ev.ctx.info(m + _for_name(lb), arg))

    return native_rows(ev, b, fn, labels_for)


def histogram_fraction(ev: Any, b: Block, lo: np.ndarray, hi: np.ndarray,
                       arg: ast.Expr) -> Block:
    def fn(h: FH, j: int, lb: Labels) -> float:
        return fraction(float(lo[j]), float(hi[j]), h,
                        lambda m: ev.ctx.info(m + _for_name(lb), arg))

    return native_rows(ev, b, fn)
