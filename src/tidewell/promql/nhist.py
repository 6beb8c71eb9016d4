"""Native histogram arithmetic for the evaluator (Prometheus's ``FloatHistogram`` semantics).

The evaluator works on ``FH``: a float histogram whose buckets are dicts from
bucket index to count. Sparse dicts make schema reduction, zero-bucket
widening and bucket-wise addition one loop each, and a result compares as
Prometheus compares after ``Compact(0)`` once empty buckets are left out.
Histogram samples are rare next to floats, so per-histogram Python objects
are fine here; nothing in this module touches the float hot path.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tidewell.model import CounterResetHint, Histogram, Series, is_stale_nan
from tidewell.model.errors import TidewellError
from tidewell.model.histogram import (
    CUSTOM_BUCKETS_SCHEMA,
    bucket_map,
    reduce_buckets,
    spans_of,
)
from tidewell.promql import nodes as ast
from tidewell.promql.exp_bounds import SCHEMA8_FRACTIONS
from tidewell.promql.format import go_g

__all__ = ["FH", "HistError", "HistogramBucket", "add", "detect_reset", "from_model", "to_model"]

_MAX_FLOAT = 1.7976931348623157e308


class HistError(TidewellError):
    """Two histograms cannot be combined (exponential and custom buckets mixed)."""


@dataclass(slots=True)
class FH:
    schema: int = 0
    zero_threshold: float = 0.0
    zero_count: float = 0.0
    count: float = 0.0
    sum: float = 0.0
    pos: dict[int, float] = field(default_factory=dict)
    neg: dict[int, float] = field(default_factory=dict)
    hint: CounterResetHint = CounterResetHint.UNKNOWN
    custom_values: tuple[float, ...] = ()

    @property
    def custom(self) -> bool:
        return self.schema == CUSTOM_BUCKETS_SCHEMA

    def copy(self) -> FH:
        return replace(self, pos=dict(self.pos), neg=dict(self.neg))

    def scaled(self, f: float) -> FH:
        """``Mul``: every count and the sum times ``f`` (a negative factor makes a gauge)."""
        h = FH(self.schema, self.zero_threshold, self.zero_count * f, self.count * f,
               self.sum * f, {k: v * f for k, v in self.pos.items()},
               {k: v * f for k, v in self.neg.items()},
               CounterResetHint.GAUGE if f < 0 else self.hint, self.custom_values)
        return h

    def divided(self, d: float) -> FH:
        """``Div``: like Prometheus, division by zero drops every bucket."""
        if d == 0:
            return FH(self.schema, self.zero_threshold, fdiv(self.zero_count, d),
                      fdiv(self.count, d), fdiv(self.sum, d), {}, {}, self.hint,
                      self.custom_values)
        return FH(self.schema, self.zero_threshold, self.zero_count / d, self.count / d,
                  self.sum / d, {k: v / d for k, v in self.pos.items()},
                  {k: v / d for k, v in self.neg.items()},
                  CounterResetHint.GAUGE if d < 0 else self.hint, self.custom_values)

    # -- bounds and iteration --------------------------------------------------------
    def bound(self, idx: int) -> float:
        if self.custom:
            n = len(self.custom_values)
            if idx >= n:
                return math.inf
            if idx <= -1:
                return -math.inf
            return self.custom_values[idx]
        return exp_bound(idx, self.schema)

    def buckets(self, positive: bool) -> Iterator[HistogramBucket]:
        """Non-empty buckets in index order (positive: ascending values; negative: towards -inf)."""
        d = self.pos if positive else self.neg
        for i in sorted(d):
            c = d[i]
            if c == 0:
                continue
            lo, hi = self.bound(i - 1), self.bound(i)
            if positive:
                yield HistogramBucket(lo, hi, c, i)
            else:
                yield HistogramBucket(-hi, -lo, c, i)

    def all_buckets(self) -> list[HistogramBucket]:
        """Every non-empty bucket from the lowest to the highest value (``AllBucketIterator``)."""
        zt = self.zero_threshold
        out = []
        for b in reversed(list(self.buckets(False))):
            if -zt < b.upper < 0:
                b.upper = -zt
            out.append(b)
        if self.zero_count > 0 and not self.custom:
            out.append(HistogramBucket(-zt, zt, self.zero_count, 0, zero=True))
        for b in self.buckets(True):
            if 0 < b.lower < zt:
                b.lower = zt
            out.append(b)
        return out


def fdiv(a: float, d: float) -> float:
    """IEEE division (Go's): x/0 is ±Inf or NaN instead of an exception."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(a) / np.float64(d))


@dataclass(slots=True)
class HistogramBucket:
    lower: float
    upper: float
    count: float
    index: int
    zero: bool = False

    def boundary_rule(self, custom: bool) -> int:
        """Prometheus's JSON boundary rule: 0 (lower, upper], 1 [lower, upper),
        2 (lower, upper), 3 [lower, upper]."""
        if self.zero:
            return 3
        if custom:
            lo_in, up_in = self.index == 0, True
        else:
            lo_in, up_in = self.lower < 0, self.upper > 0
        if lo_in:
            return 3 if up_in else 1
        return 0 if up_in else 2


def exp_bound(idx: int, schema: int) -> float:
    """Upper bound of bucket ``idx`` in an exponential schema (``getBoundExponential``)."""
    if schema < 0:
        exp = idx << -schema
        if exp == 1024:
            return _MAX_FLOAT
        try:
            return math.ldexp(1.0, exp)
        except OverflowError:
            return math.inf
    frac_idx = idx & ((1 << schema) - 1)
    frac = SCHEMA8_FRACTIONS[frac_idx << (8 - schema)]
    exp = (idx >> schema) + 1
    if frac == 0.5 and exp == 1025:
        return _MAX_FLOAT
    try:
        return math.ldexp(frac, exp)
    except OverflowError:
        return math.inf


# -- conversion ----------------------------------------------------------------------------
def from_model(h: Histogram) -> FH:
    return FH(h.schema, h.zero_threshold, float(h.zero_count), float(h.count), float(h.sum),
              bucket_map(h.positive_spans, h.positive_buckets),
              bucket_map(h.negative_spans, h.negative_buckets),
              CounterResetHint(h.counter_reset_hint), tuple(h.custom_values))


def to_model(h: FH) -> Histogram:
    ps, pb = spans_of(h.pos)
    ns, nb = spans_of(h.neg)
    return Histogram(schema=h.schema, zero_threshold=h.zero_threshold, zero_count=h.zero_count,
                     count=h.count, sum=h.sum, positive_spans=ps, positive_buckets=pb,
                     negative_spans=ns, negative_buckets=nb, counter_reset_hint=h.hint,
                     custom_values=h.custom_values if h.custom else (), integer=False)


# -- combining -------------------------------------------------------------------------------
def reduced(h: FH, schema: int) -> FH:
    """A copy at a lower resolution ``schema`` (buckets merged)."""
    if schema >= h.schema:
        return h
    return replace(h, schema=schema, pos=reduce_buckets(h.pos, h.schema - schema),
                   neg=reduce_buckets(h.neg, h.schema - schema))


def _zero_for_threshold(h: FH, larger: float) -> tuple[float, float]:
    """Zero count and final threshold if ``h``'s zero bucket widened to ``larger``."""
    if larger == h.zero_threshold:
        return h.zero_count, larger
    while True:
        zc = h.zero_count
        for b in h.buckets(True):
            if b.lower >= larger:
                break
            zc += b.count
            if b.upper > larger:
                larger = b.upper
                break
        restart = False
        for b in h.buckets(False):
            if b.upper <= -larger:
                break
            zc += b.count
            if b.lower < -larger:
                larger = -b.lower
                restart = True
                break
        if not restart:
            return zc, larger


def _widen_zero(h: FH, threshold: float) -> FH:
    zc, thr = _zero_for_threshold(h, threshold)
    pos = {i: c for i, c in h.pos.items() if h.bound(i - 1) >= thr}
    neg = {i: c for i, c in h.neg.items() if h.bound(i - 1) >= thr}
    return replace(h, zero_count=zc, zero_threshold=thr, pos=pos, neg=neg)


def _reconcile_zero(a: FH, b: FH) -> tuple[FH, FH]:
    while a.zero_threshold != b.zero_threshold:
        if a.zero_threshold > b.zero_threshold:
            b = _widen_zero(b, a.zero_threshold)
        if b.zero_threshold > a.zero_threshold:
            a = _widen_zero(a, b.zero_threshold)
    return a, b


def _hint(a: CounterResetHint, b: CounterResetHint) -> tuple[CounterResetHint, bool]:
    """Resulting hint of a sum and whether the two hints collide (``adjustCounterReset``)."""
    if a == b or a == CounterResetHint.GAUGE:
        return a, False
    if b == CounterResetHint.GAUGE:
        return b, False
    if a == CounterResetHint.UNKNOWN:
        return a, False
    if b == CounterResetHint.UNKNOWN:
        return b, False
    return CounterResetHint.UNKNOWN, True


def _remap_custom(d: dict[int, float], bounds: tuple[float, ...],
                  target: tuple[float, ...]) -> dict[int, float]:
    out: dict[int, float] = {}
    for i, c in d.items():
        j = len(target)
        if i < len(bounds):
            b = bounds[i]
            for k, t in enumerate(target):
                if t >= b:
                    j = k
                    break
        out[j] = out.get(j, 0.0) + c
    return out


def _intersect(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, ...]:
    sb = set(b)
    return tuple(x for x in a if x in sb)


@dataclass(slots=True)
class AddResult:
    h: FH
    collision: bool = False
    reconciled: bool = False


def add(a: FH, b: FH, sign: float = 1.0) -> AddResult:
    """``a + sign*b`` with Prometheus's rules (schema reduction, zero buckets, NHCB bounds)."""
    if a.custom != b.custom:
        raise HistError("incompatible schema")
    hint, collision = _hint(a.hint, b.hint)
    reconciled = False
    if a.custom:
        cv = a.custom_values
        ap, bp = a.pos, b.pos
        if a.custom_values != b.custom_values:
            reconciled = True
            cv = _intersect(a.custom_values, b.custom_values)
            ap = _remap_custom(ap, a.custom_values, cv)
            bp = _remap_custom(bp, b.custom_values, cv)
        pos = dict(ap)
        for i, c in bp.items():
            pos[i] = pos.get(i, 0.0) + sign * c
        h = FH(a.schema, 0.0, 0.0, a.count + sign * b.count, a.sum + sign * b.sum, pos, {},
               hint, cv)
        return AddResult(h, collision, reconciled)
    s = min(a.schema, b.schema)
    a, b = reduced(a, s), reduced(b, s)
    a, b = _reconcile_zero(a, b)
    pos, neg = dict(a.pos), dict(a.neg)
    for i, c in b.pos.items():
        pos[i] = pos.get(i, 0.0) + sign * c
    for i, c in b.neg.items():
        neg[i] = neg.get(i, 0.0) + sign * c
    h = FH(s, a.zero_threshold, a.zero_count + sign * b.zero_count, a.count + sign * b.count,
           a.sum + sign * b.sum, pos, neg, hint, ())
    return AddResult(h, collision, reconciled)


def _rollup_reset(cur: FH, prev: FH) -> bool:
    """Reset detection between custom-bucket histograms with different bounds."""
    common = _intersect(cur.custom_values, prev.custom_values)
    a = _remap_custom(cur.pos, cur.custom_values, common)
    b = _remap_custom(prev.pos, prev.custom_values, common)
    return any(a.get(i, 0.0) < c for i, c in b.items())


def detect_reset(cur: FH, prev: FH) -> bool:
    """Whether ``cur`` follows a counter reset after ``prev`` (``DetectReset``)."""
    if cur.hint == CounterResetHint.COUNTER_RESET:
        return True
    if cur.hint == CounterResetHint.NOT_COUNTER_RESET:
        return False
    if cur.count < prev.count:
        return True
    if cur.custom or prev.custom:
        if cur.custom != prev.custom:
            return True
        if cur.custom_values != prev.custom_values:
            return _rollup_reset(cur, prev)
        return any(cur.pos.get(i, 0.0) < c for i, c in prev.pos.items())
    if cur.schema > prev.schema:
        return True
    if cur.zero_threshold < prev.zero_threshold:
        return True
    pzc, thr = _zero_for_threshold(prev, cur.zero_threshold)
    if thr != cur.zero_threshold:
        return True
    if cur.zero_count < pzc:
        return True
    p = reduced(prev, cur.schema)
    for d_cur, d_prev in ((cur.pos, p.pos), (cur.neg, p.neg)):
        for i, c in d_prev.items():
            if c != 0 and d_cur.get(i, 0.0) < c and (thr == 0 or p.bound(i - 1) >= thr):
                return True
    return False


def is_stale_histogram(h: Histogram) -> bool:
    """A histogram staleness marker: its sum carries the stale-NaN bits."""
    return math.isnan(h.sum) and is_stale_nan(h.sum)


def histogram_points(s: Series, stats: bool = False) -> tuple[np.ndarray, list[FH]]:
    """A series' histogram samples without staleness markers, as ``FH`` (``stats``: hints
    resolved as by ``resolve_hints``)."""
    hs = s.histograms
    if hs is None or not len(hs):
        return np.zeros(0, dtype=np.int64), []
    keep = [k for k, h in enumerate(hs.values) if not is_stale_histogram(h)]
    fhs = [from_model(hs.values[k]) for k in keep]
    return hs.timestamps[keep], resolve_hints(fhs) if stats else fhs


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def equal(a: FH, b: FH) -> bool:
    """Prometheus's ``Equals``: same layout and values (NaN equals NaN); the hint is ignored."""
    if a.schema != b.schema or a.zero_threshold != b.zero_threshold:
        return False
    if not (_same(a.zero_count, b.zero_count) and _same(a.count, b.count)
            and _same(a.sum, b.sum)):
        return False
    if a.custom and a.custom_values != b.custom_values:
        return False
    return spans_of(a.pos) == spans_of(b.pos) and spans_of(a.neg) == spans_of(b.neg)


def unknown_hint(h: FH) -> FH:
    """``h`` with a reset/not-reset hint made unknown: a subquery may skip or repeat the
    samples the hint was about, so the reset must be detected again (as Prometheus does)."""
    if h.hint in (CounterResetHint.COUNTER_RESET, CounterResetHint.NOT_COUNTER_RESET):
        return replace(h, hint=CounterResetHint.UNKNOWN)
    return h


def resolve_hints(hs: list[FH]) -> list[FH]:
    """Unknown hints resolved against the previous sample, as Prometheus's
    ``HistogramStatsIterator`` does for selectors read only for count and sum."""
    out = list(hs)
    for k in range(1, len(out)):
        h = out[k]
        if h.hint == CounterResetHint.UNKNOWN:
            reset = detect_reset(h, hs[k - 1])
            out[k] = replace(h, hint=CounterResetHint.COUNTER_RESET if reset
                             else CounterResetHint.NOT_COUNTER_RESET)
    return out


def stats_selectors(expr: Any) -> set[int]:
    """Ids of the vector selectors whose histograms feed only ``histogram_count``/``sum``/
    ``avg`` (Prometheus's ``detectHistogramStatsDecoding``)."""

    out: set[int] = set()
    for node, path in ast.walk(expr):
        if not isinstance(node, ast.VectorSelector):
            continue
        for p in reversed(path):
            if isinstance(p, ast.SubqueryExpr):
                break
            if isinstance(p, ast.Call):
                if p.func in ("histogram_count", "histogram_sum", "histogram_avg"):
                    out.add(id(node))
                elif p.func in ("histogram_quantile", "histogram_quantiles",
                                "histogram_fraction"):
                    out.discard(id(node))
                    break
            if isinstance(p, ast.BinaryExpr) and p.op in ("</", ">/"):
                out.discard(id(node))
                break
    return out


def fraction_below(lower: float, upper: float, v: float, linear: bool) -> float:
    """The share of a bucket's observations below ``v`` (inside the bucket): linear, or
    on a log2 scale for exponential buckets, as Prometheus interpolates."""
    if linear:
        return (v - lower) / (upper - lower)
    log_lo = math.log2(abs(lower))
    log_up = math.log2(abs(upper))
    log_v = math.log2(abs(v))
    if v > 0:
        return (log_v - log_lo) / (log_up - log_lo)
    return 1 - ((log_v - log_up) / (log_lo - log_up))


# -- compensated (Kahan) sums, as Prometheus's KahanAdd -------------------------------------
def kahan_inc(inc: float, s: float, c: float) -> tuple[float, float]:
    t = s + inc
    if math.isinf(t):
        c = 0.0
    elif abs(s) >= abs(inc):
        c += (s - t) + inc
    else:
        c += (inc - t) + s
    return t, c


def _kreduce(v: dict[int, float], c: dict[int, float], frm: int,
             to: int) -> tuple[dict[int, float], dict[int, float]]:
    if frm == to:
        return v, c
    shift = frm - to
    ov: dict[int, float] = {}
    oc: dict[int, float] = {}
    for i in sorted(v):
        j = ((i - 1) >> shift) + 1
        ov[j], oc[j] = kahan_inc(v[i], ov.get(j, 0.0), oc.get(j, 0.0))
        if c.get(i):
            ov[j], oc[j] = kahan_inc(c[i], ov[j], oc[j])
    return ov, oc


def _kwiden(h: FH, c: FH, thr: float) -> None:
    """Move ``h``'s (and its compensation's) buckets below ``thr`` into the zero bucket."""
    for d, dc in ((h.pos, c.pos), (h.neg, c.neg)):
        for i in [i for i in d if h.bound(i - 1) < thr]:
            h.zero_count, c.zero_count = kahan_inc(d.pop(i), h.zero_count, c.zero_count)
            if i in dc:
                h.zero_count, c.zero_count = kahan_inc(dc.pop(i), h.zero_count, c.zero_count)
    h.zero_threshold = c.zero_threshold = thr


class KahanSum:
    """A running histogram sum with a compensation histogram (``KahanAdd``)."""

    def __init__(self, first: FH) -> None:
        self.h = first.copy()
        self.c = FH(first.schema, first.zero_threshold, custom_values=first.custom_values)

    def add(self, o: FH) -> AddResult:
        h, c = self.h, self.c
        if h.custom != o.custom:
            raise HistError("incompatible schema")
        h.hint, collision = _hint(h.hint, o.hint)
        reconciled = False
        opos, oneg = o.pos, o.neg
        ocpos: dict[int, float] = {}
        ocneg: dict[int, float] = {}
        if h.custom:
            if h.custom_values != o.custom_values:
                reconciled = True
                cv = _intersect(h.custom_values, o.custom_values)
                h.pos = _remap_custom(h.pos, h.custom_values, cv)
                c.pos = _remap_custom(c.pos, h.custom_values, cv)
                opos = _remap_custom(opos, o.custom_values, cv)
                h.custom_values = c.custom_values = cv
        else:
            if o.schema < h.schema:
                h.pos, cp = _kreduce(h.pos, c.pos, h.schema, o.schema)
                h.neg, cn = _kreduce(h.neg, c.neg, h.schema, o.schema)
                c.pos, c.neg = cp, cn
                h.schema = c.schema = o.schema
            elif o.schema > h.schema:
                opos, ocpos = _kreduce(opos, {}, o.schema, h.schema)
                oneg, ocneg = _kreduce(oneg, {}, o.schema, h.schema)
            oz, ozc, othr = o.zero_count, 0.0, o.zero_threshold
            while othr != h.zero_threshold:
                if h.zero_threshold > othr:
                    oz, othr = _zero_for_threshold(replace(o, pos=opos, neg=oneg, schema=h.schema),
                                                   h.zero_threshold)
                    opos = {i: v for i, v in opos.items() if h.bound(i - 1) >= othr}
                    oneg = {i: v for i, v in oneg.items() if h.bound(i - 1) >= othr}
                if othr > h.zero_threshold:
                    _, thr = _zero_for_threshold(h, othr)
                    _kwiden(h, c, thr)
            h.zero_count, c.zero_count = kahan_inc(oz, h.zero_count, c.zero_count)
            h.zero_count, c.zero_count = kahan_inc(ozc, h.zero_count, c.zero_count)
        h.count, c.count = kahan_inc(o.count, h.count, c.count)
        h.sum, c.sum = kahan_inc(o.sum, h.sum, c.sum)
        for d, dc, od, odc in ((h.pos, c.pos, opos, ocpos), (h.neg, c.neg, oneg, ocneg)):
            for i, v in od.items():
                d[i], dc[i] = kahan_inc(v, d.get(i, 0.0), dc.get(i, 0.0))
                if odc.get(i):
                    d[i], dc[i] = kahan_inc(odc[i], d[i], dc[i])
        return AddResult(h, collision, reconciled)

    def overflow(self) -> bool:
        h = self.h
        vals = [h.zero_count, h.count, h.sum, *h.pos.values(), *h.neg.values()]
        return any(math.isinf(v) for v in vals)

    def result(self) -> FH:
        """The sum with its compensation added."""
        h, c = self.h.copy(), self.c
        h.zero_count += c.zero_count
        h.count += c.count
        h.sum += c.sum
        for d, dc in ((h.pos, c.pos), (h.neg, c.neg)):
            for i, v in dc.items():
                if i in d:
                    d[i] += v
        return h

    def copy(self) -> KahanSum:
        k = KahanSum.__new__(KahanSum)
        k.h, k.c = self.h.copy(), self.c.copy()
        return k

    def scale(self, f: float) -> None:
        hint = self.h.hint
        self.h, self.c = self.h.scaled(f), self.c.scaled(f)
        self.h.hint = hint


def hsum(hs: list[FH]) -> tuple[FH, bool]:
    """Compensated sum of histograms and whether custom bounds were reconciled."""
    ks = KahanSum(hs[0])
    reconciled = False
    for h in hs[1:]:
        reconciled |= ks.add(h).reconciled
    return ks.result(), reconciled


def hmean(hs: list[FH]) -> tuple[FH, bool]:
    """Mean of histograms: a compensated sum, switching to an incremental mean when the
    sum overflows (Prometheus's ``avg``/``avg_over_time``)."""
    ks = KahanSum(hs[0])
    reconciled = False
    incremental = False
    for k, h in enumerate(hs[1:], start=2):
        if not incremental:
            trial = ks.copy()
            reconciled |= trial.add(h).reconciled
            if not trial.overflow():
                ks = trial
                continue
            incremental = True
            _div_all(ks, k - 1)
        ks.scale((k - 1) / k)
        reconciled |= ks.add(h.divided(float(k))).reconciled
    if not incremental:
        _div_all(ks, len(hs))
    return ks.result(), reconciled


def _div_all(ks: KahanSum, n: float) -> None:
    hint = ks.h.hint
    ks.h, ks.c = ks.h.divided(float(n)), ks.c.divided(float(n))
    ks.h.hint = hint


def histogram_string(h: FH) -> str:
    """Prometheus's ``FloatHistogram.String()`` (``count_values`` uses it as label value)."""

    def bucket(b: HistogramBucket, lo_in: bool, up_in: bool) -> str:
        return (f"{'[' if lo_in else '('}{go_g(b.lower)},{go_g(b.upper)}{']' if up_in else ')'}"
                f":{go_g(b.count, 21)}")

    def incl(b: HistogramBucket) -> tuple[bool, bool]:
        if h.custom:
            return b.index == 0, True
        return b.lower < 0, b.upper > 0

    parts = [f"{{count:{go_g(h.count)}, sum:{go_g(h.sum)}"]
    parts += [bucket(b, *incl(b)) for b in reversed(list(h.buckets(False)))]
    if h.zero_count != 0:
        zt = h.zero_threshold
        parts.append(bucket(HistogramBucket(-zt, zt, h.zero_count, 0), True, True))
    parts += [bucket(b, *incl(b)) for b in h.buckets(True)]
    return ", ".join(parts) + "}"
