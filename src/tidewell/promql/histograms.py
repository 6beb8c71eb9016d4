"""Classic (``le``-labelled) histograms: ``histogram_quantile(s)`` and ``histogram_fraction``.

Buckets are grouped by their labels without ``le`` (the name included, then
dropped late, as Prometheus does); per step we gather the present buckets and
apply Prometheus's bucket algorithms.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numba import njit

from tidewell.model import Labels
from tidewell.promql import hfuncs
from tidewell.promql import nodes as ast
from tidewell.promql.format import format_float
from tidewell.promql.values import Block

__all__ = ["histogram_fraction", "histogram_quantile", "histogram_quantiles"]

_MONO = ("input to histogram_quantile needed to be fixed for monotonicity (see "
         "https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)")


def _parse_le(s: str) -> float | None:
    try:
        if not s or s != s.strip() or "_" in s:
            return None
        return float(s)
    except ValueError:
        return None


class _Groups:
    def __init__(self, ev: Any, b: Block, arg: ast.Expr) -> None:
        self.ev = ev
        self.keys: list[Labels] = []
        self.rows: list[tuple[np.ndarray, list[int]]] = []
        idx: dict[Labels, list[tuple[float, int]]] = {}
        for i, lb in enumerate(b.labels):
            le = _parse_le(lb.get("le"))
            if le is None:
                if b.present[i].any():
                    ev.ctx.warn(f'bucket label "le" is missing or has a malformed value of '
                                f'"{lb.get("le")}" for metric name "{lb.name}"', arg)
                continue
            idx.setdefault(lb.without("le"), []).append((le, i))
        for key, items in idx.items():
            items.sort(key=lambda x: x[0])
            self.keys.append(key)
            self.rows.append((np.array([x[0] for x in items]), [x[1] for x in items]))
        self.b = b

    def buckets(self, g: int, j: int) -> tuple[np.ndarray, np.ndarray] | None:
        les, rows = self.rows[g]
        m = self.b.present[rows, j]
        if not m.any():
            return None
        le_j, c_j = les[m], self.b.values[rows, j][m].copy()
        if len(le_j) > 1 and (le_j[1:] == le_j[:-1]).any():
            u, inv = np.unique(le_j, return_inverse=True)
            c2 = np.zeros(len(u))
            np.add.at(c2, inv, c_j)
            le_j, c_j = u, c2
        return le_j, c_j


def _block(ev: Any, labels: list[Labels], vals: list[np.ndarray],
           pres: list[np.ndarray]) -> Block:
    if not labels:
        return Block.empty(ev.T)
    return Block(labels, np.vstack(vals), np.vstack(pres), [True] * len(labels)).compact()


class _Mono:
    """Merges forced-monotonicity infos across steps, as Prometheus does."""

    def __init__(self) -> None:
        self.hits: dict[str, list[float]] = {}

    def add(self, name: str, t: int, lo: float, hi: float, diff: float) -> None:
        h = self.hits.get(name)
        if h is None:
            self.hits[name] = [t, t, lo, hi, diff, 0]
        else:
            h[0], h[1] = min(h[0], t), max(h[1], t)
            h[2], h[3], h[4] = min(h[2], lo), max(h[3], hi), max(h[4], diff)
            h[5] += 1

    def emit(self, ev: Any, arg: ast.Expr) -> None:
        for name, (t0, t1, lo, hi, diff, n) in self.hits.items():
            fmt = "%Y-%m-%dT%H:%M:%SZ"
            s0 = datetime.fromtimestamp(int(t0) // 1000, UTC).strftime(fmt)
            s1 = datetime.fromtimestamp(int(t1) // 1000, UTC).strftime(fmt)
            suffix = f' for metric name "{name}"' if name else ""
            ev.ctx.info(f"{_MONO}{suffix}, from buckets {lo:g} to {hi:g}, with a max diff of "
                        f"{diff:.2g}, over {int(n) + 1} samples from {s0} to {s1}", arg)


def bucket_quantile(q: float, les: np.ndarray, counts: np.ndarray
                    ) -> tuple[float, tuple[float, float, float] | None]:
    """Prometheus's ``BucketQuantile`` of one group (``les`` sorted and distinct,
    ``counts`` cumulative, made monotonic in place); with (lo, hi, maxdiff) where
    they had to be."""
    v, hit, lo, hi, maxdiff = _quantile_of(q, les, counts, len(les))
    return v, ((lo, hi, maxdiff) if hit else None)


def bucket_fraction(lower: float, upper: float, les: np.ndarray, counts: np.ndarray) -> float:
    """Prometheus's ``BucketFraction`` of one group's cumulative ``counts``."""
    if les[-1] != math.inf:
        return math.nan
    count = counts[-1]
    if count == 0 or math.isnan(lower) or math.isnan(upper):
        return math.nan
    if lower >= upper:
        return 0.0
    return hfuncs.observations_between(lower, upper, _classic_bounds(les, counts), count) / count


def _classic_bounds(les: np.ndarray, counts: np.ndarray) -> Iterator[hfuncs.Bound]:
    """Cumulative buckets for ``observations_between``: the first starts at 0, or at
    -Inf where its bound is not positive."""
    lb = 0.0 if les[0] > 0 else -math.inf
    rank = 0.0
    for i in range(len(les)):
        if i > 0:
            lb = les[i - 1]
        yield lb, les[i], rank, counts[i] - rank, True
        rank = counts[i]


def _split(ev: Any, blk: Block, arg: ast.Expr) -> tuple[Block, Block]:
    """The native histograms and the classic buckets of ``blk``; where a native
    histogram has the labels of a classic bucket group at a step, neither counts
    there (Prometheus warns)."""
    classic = blk.floats_only()
    hm = blk.hist_mask()
    if hm is None:
        return blk, classic
    keys: dict[Labels, list[int]] = {}
    for i, lb in enumerate(classic.labels):
        if _parse_le(lb.get("le")) is not None:
            keys.setdefault(lb.without("le"), []).append(i)
    present = None
    native_present = blk.present
    for i, lb in enumerate(blk.labels):
        rows = keys.get(lb)
        if rows is None or not hm[i].any():
            continue
        clash = hm[i] & blk.present[i] & classic.present[rows].any(axis=0)
        if not clash.any():
            continue
        ev.ctx.warn("vector contains a mix of classic and native histograms for metric name "
                    f'"{lb.name}"', arg)
        if present is None:
            present, native_present = classic.present.copy(), blk.present.copy()
        present[np.ix_(rows, np.flatnonzero(clash))] = False
        native_present[i] &= ~clash
    if present is None:
        return blk, classic
    return (Block(blk.labels, blk.values, native_present, blk.drop_name, blk.hist),
            Block(classic.labels, classic.values, present, classic.drop_name))


def _validate_q(ev: Any, qs: np.ndarray, arg: ast.Expr) -> None:
    for x in np.unique(qs):
        if math.isnan(x) or x < 0 or x > 1:
            ev.ctx.warn(f"quantile value should be between 0 and 1, got {format_float(x)}", arg)


def _per_step(ev: Any, groups: _Groups, fn: Callable[[int, int, np.ndarray, np.ndarray], float],
              labels_for: Callable[[Labels], Labels]) -> tuple[list[Labels], list[np.ndarray],
                                                              list[np.ndarray]]:
    labels, vals, pres = [], [], []
    for g, key in enumerate(groups.keys):
        res = np.full(ev.T, np.nan)
        ok = np.zeros(ev.T, dtype=bool)
        for j in np.flatnonzero(groups.b.present[groups.rows[g][1]].any(axis=0)):
            bk = groups.buckets(g, j)
            if bk is None:
                continue
            res[j] = fn(g, j, *bk)
            ok[j] = True
        labels.append(labels_for(key))
        vals.append(res)
        pres.append(ok)
    return labels, vals, pres


@njit(cache=True, nogil=True)
def _almost_nb(a: float, b: float, eps: float) -> bool:
    if a == b:
        return True
    s = abs(a) + abs(b)
    d = abs(a - b)
    if a == 0 or b == 0 or s < 2.2250738585072014e-308:
        return d < eps * 2.2250738585072014e-308
    return d / min(s, 1.7976931348623157e308) < eps


@njit(cache=True, nogil=True)
def _quantile_of(q, les, col, nb):  # type: ignore[no-untyped-def]
    """``bucket_quantile`` over the first ``nb`` buckets, compiled: (value, forced,
    lo, hi, maxdiff); ``col`` is made monotonic in place."""
    if math.isnan(q):
        return math.nan, False, 0.0, 0.0, 0.0
    if q < 0:
        return -math.inf, False, 0.0, 0.0, 0.0
    if q > 1:
        return math.inf, False, 0.0, 0.0, 0.0
    if les[nb - 1] != math.inf:
        return math.nan, False, 0.0, 0.0, 0.0
    lo, hi, maxdiff, hit = math.inf, -math.inf, 0.0, False
    prev = col[0]
    for i in range(1, nb):
        cur = col[i]
        if cur == prev:
            continue
        if _almost_nb(prev, cur, 1e-12):
            col[i] = prev
            continue
        if cur < prev:
            col[i] = prev
            lo, hi = min(lo, les[i]), max(hi, les[i])
            maxdiff = max(maxdiff, prev - cur)
            hit = True
            continue
        prev = cur
    obs = col[nb - 1]
    if nb < 2 or obs == 0:
        return math.nan, hit, lo, hi, maxdiff
    rank = q * obs
    b = nb - 1
    for i in range(nb - 1):
        if col[i] >= rank:
            b = i
            break
    if b == nb - 1:
        return les[nb - 2], hit, lo, hi, maxdiff
    if b == 0 and les[0] <= 0:
        return les[0], hit, lo, hi, maxdiff
    start, count = 0.0, col[b]
    if b > 0:
        start = les[b - 1]
        count -= col[b - 1]
        rank -= col[b - 1]
    return start + (les[b] - start) * (rank / count), hit, lo, hi, maxdiff


@njit(cache=True, nogil=True)
def _quantile_steps(q, all_les, counts, present, out, ok, forced):  # type: ignore[no-untyped-def]
    """``bucket_quantile`` of every column (step) of ``counts`` (buckets x steps) over
    the buckets present there, compiled: ``all_les`` sorted and distinct. ``forced[:, j]``
    gets (1, lo, hi, maxdiff) where a column's buckets had to be made monotonic."""
    col = np.empty(all_les.shape[0])
    les = np.empty(all_les.shape[0])
    for j in range(counts.shape[1]):
        nb = 0
        for i in range(all_les.shape[0]):
            if present[i, j]:
                les[nb] = all_les[i]
                col[nb] = counts[i, j]
                nb += 1
        if nb == 0:
            continue
        ok[j] = True
        out[j], hit, lo, hi, maxdiff = _quantile_of(q[j], les, col, nb)
        if hit:
            forced[0, j], forced[1, j], forced[2, j], forced[3, j] = 1.0, lo, hi, maxdiff


def _quantile_columns(q: np.ndarray, les: np.ndarray, counts: np.ndarray, present: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``bucket_quantile`` for every step at once over the buckets present at each,
    when the group's bounds are distinct (``None`` otherwise): (results, presence,
    forced-monotonicity rows ``(flag, lo, hi, maxdiff) x steps``)."""
    if len(les) > 1 and (les[1:] == les[:-1]).any():
        return None
    out = np.full(counts.shape[1], np.nan)
    ok = np.zeros(counts.shape[1], dtype=bool)
    forced = np.zeros((4, counts.shape[1]))
    _quantile_steps(np.ascontiguousarray(q, dtype=np.float64),
                    np.ascontiguousarray(les, dtype=np.float64),
                    np.ascontiguousarray(counts, dtype=np.float64),
                    np.ascontiguousarray(present, dtype=np.bool_), out, ok, forced)
    return out, ok, forced


def _classic_quantile(ev: Any, groups: _Groups, q: np.ndarray, mono: _Mono,
                      labels_for: Callable[[Labels], Labels]
                      ) -> tuple[list[Labels], list[np.ndarray], list[np.ndarray]]:
    """``bucket_quantile`` of every group at every step: all steps at once (compiled)
    where a group's bounds are distinct, step by step where merged bounds repeat."""

    def fn(g: int, j: int, les: np.ndarray, counts: np.ndarray) -> float:
        v, forced = bucket_quantile(q[j], les, counts)
        if forced:
            mono.add(groups.keys[g].name, int(ev.times[j]), *forced)
        return v

    labels, vals, pres = [], [], []
    for g, key in enumerate(groups.keys):
        les, rows = groups.rows[g]
        fast = _quantile_columns(q, les, groups.b.values[rows], groups.b.present[rows])
        if fast is None:
            sub = _Groups.__new__(_Groups)
            sub.ev, sub.b, sub.keys, sub.rows = ev, groups.b, [key], [groups.rows[g]]
            lab, val, pr = _per_step(ev, sub, lambda _g, j, le, c, g=g: fn(g, j, le, c),
                                     labels_for)
            labels += lab
            vals += val
            pres += pr
        else:
            for j in np.flatnonzero(fast[2][0]).tolist():
                mono.add(key.name, int(ev.times[j]), *fast[2][1:, j].tolist())
            labels.append(labels_for(key))
            vals.append(fast[0])
            pres.append(fast[1])
    return labels, vals, pres


def histogram_quantile(ev: Any, node: ast.Call) -> Block:
    q = ev.scalar_of(node.args[0])
    _validate_q(ev, q, node.args[0])
    blk, classic = _split(ev, ev.eval(node.args[1]), node.args[1])
    groups = _Groups(ev, classic, node.args[1])
    mono = _Mono()
    out = _block(ev, *_classic_quantile(ev, groups, q, mono, lambda k: k))
    mono.emit(ev, node.args[1])
    return hfuncs.concat(ev, [hfuncs.histogram_quantile(ev, blk, q, node.args[1]), out])


def histogram_quantiles(ev: Any, node: ast.Call) -> Block:
    arg = node.args[1]
    while isinstance(arg, ast.ParenExpr):
        arg = arg.expr
    assert isinstance(arg, ast.StringLiteral)
    label = arg.value
    qs = []
    for a in node.args[2:]:
        qv = ev.scalar_of(a)
        _validate_q(ev, qv, a)
        qs.append(qv)
    blk, classic = _split(ev, ev.eval(node.args[0]), node.args[0])
    groups = _Groups(ev, classic, node.args[0])
    mono = _Mono()
    labels, vals, pres = [], [], []
    natives = []
    for qv in qs:
        qstr = _openmetrics_float(float(qv[0]))

        def with_q(k: Labels, s: str = qstr) -> Labels:
            return k.with_label(label, s)

        natives.append(hfuncs.histogram_quantile(ev, blk, qv, node.args[0], with_q))
        lab, val, pr = _classic_quantile(ev, groups, qv, mono, with_q)
        labels += lab
        vals += val
        pres += pr
    mono.emit(ev, node.args[0])
    return hfuncs.concat(ev, [*natives, _block(ev, labels, vals, pres)])


def _openmetrics_float(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    s = format_float(v)
    if "." not in s and "e" not in s:
        s += ".0"
    return s


def histogram_fraction(ev: Any, node: ast.Call) -> Block:
    lo = ev.scalar_of(node.args[0])
    hi = ev.scalar_of(node.args[1])
    blk, classic = _split(ev, ev.eval(node.args[2]), node.args[2])
    groups = _Groups(ev, classic, node.args[2])

    def fn(g: int, j: int, les: np.ndarray, counts: np.ndarray) -> float:
        return bucket_fraction(lo[j], hi[j], les, counts)

    return hfuncs.concat(ev, [hfuncs.histogram_fraction(ev, blk, lo, hi, node.args[2]),
                              _block(ev, *_per_step(ev, groups, fn, lambda k: k))])
