"""Aggregation operators over (series x steps) blocks, grouped by label signature."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from tidewell.model import Labels, go_quote, is_utf8_name
from tidewell.promql import nodes as ast
from tidewell.promql.errors import ExecutionError
from tidewell.promql.format import format_float, ratio_sample
from tidewell.promql.haggr import sum_histograms
from tidewell.promql.kernels import _quantile_sorted, nan_first_sort
from tidewell.promql.nhist import histogram_string
from tidewell.promql.values import NAME_LABELS, Block, Scalar, String

__all__ = ["eval_aggregate"]


@njit(cache=True, nogil=True)
def _agg_kernel(values, present, gid, G, kind, out, cnt):
    # kind: 0 sum, 1 avg, 2 min, 3 max, 4 count, 5 group, 6 stddev, 7 stdvar
    N, T = values.shape
    comp = np.zeros((G, T))
    mean = np.zeros((G, T))
    cm = np.zeros((G, T))
    aux = np.zeros((G, T))
    ca = np.zeros((G, T))
    for i in range(N):
        g = gid[i]
        for j in range(T):
            if not present[i, j]:
                continue
            v = values[i, j]
            cnt[g, j] += 1.0
            c = cnt[g, j]
            if kind == 0 or kind == 1:
                s = out[g, j]
                t = s + v
                if math.isinf(t):
                    comp[g, j] = 0.0
                elif abs(s) >= abs(v):
                    comp[g, j] += (s - t) + v
                else:
                    comp[g, j] += (v - t) + s
                out[g, j] = t
                if kind == 1:
                    # incremental mean as fallback when the sum overflows
                    if c == 1.0:
                        mean[g, j] = v
                    else:
                        mean[g, j] += v / c - mean[g, j] / c
            elif kind == 2:
                if c == 1.0 or v < out[g, j] or math.isnan(out[g, j]):
                    out[g, j] = v
            elif kind == 3:
                if c == 1.0 or v > out[g, j] or math.isnan(out[g, j]):
                    out[g, j] = v
            elif kind == 4 or kind == 5:
                out[g, j] = c if kind == 4 else 1.0
            else:
                delta = v - (mean[g, j] + cm[g, j])
                m, mc = mean[g, j], cm[g, j]
                x = delta / c
                t = m + x
                if math.isinf(t):
                    mc = 0.0
                elif abs(m) >= abs(x):
                    mc += (m - t) + x
                else:
                    mc += (x - t) + m
                mean[g, j], cm[g, j] = t, mc
                y = delta * (v - (mean[g, j] + cm[g, j]))
                a = aux[g, j]
                t2 = a + y
                if math.isinf(t2):
                    ca[g, j] = 0.0
                elif abs(a) >= abs(y):
                    ca[g, j] += (a - t2) + y
                else:
                    ca[g, j] += (y - t2) + a
                aux[g, j] = t2
    for g in range(G):
        for j in range(T):
            c = cnt[g, j]
            if c == 0:
                continue
            if kind == 0:
                if not math.isinf(out[g, j]):
                    out[g, j] += comp[g, j]
            elif kind == 1:
                s = out[g, j]
                if math.isinf(s):
                    out[g, j] = mean[g, j] if not math.isnan(mean[g, j]) else s / c
                    if math.isnan(mean[g, j]):
                        out[g, j] = s / c
                else:
                    out[g, j] = (s + comp[g, j]) / c
            elif kind == 6 or kind == 7:
                var = (aux[g, j] + ca[g, j]) / c
                out[g, j] = math.sqrt(var) if kind == 6 else var


def warm_up() -> None:
    v = np.ones((2, 2))
    p = np.ones((2, 2), dtype=np.bool_)
    for kind in range(8):
        _agg_kernel(v, p, np.zeros(2, dtype=np.int64), 1, kind, np.zeros((1, 2)),
                    np.zeros((1, 2)))


_KIND = {"sum": 0, "avg": 1, "min": 2, "max": 3, "count": 4, "group": 5, "stddev": 6,
         "stdvar": 7}


def _group_key(lb: Labels, node: ast.AggregateExpr) -> Labels:
    if node.without:
        return lb.without(*NAME_LABELS, *node.grouping)
    return lb.only(*node.grouping)


def eval_aggregate(ev: Any, node: ast.AggregateExpr) -> Block:
    op = node.op
    param = ev.eval(node.param) if node.param is not None else None
    blk = ev.eval(node.expr)
    assert isinstance(blk, Block)
    T = ev.T
    if op == "count_values":
        assert isinstance(param, String)
        return _count_values(blk, node, param.value, T)
    keys: dict[Labels, int] = {}
    gid = np.zeros(len(blk), dtype=np.int64)
    check = ev.ctx.budget.check
    for i, lb in enumerate(blk.labels):
        if i and not i & 255:
            check()  # every 256 rows: a push in flight goes first (util/priority.py)
        k = _group_key(lb, node)
        gid[i] = keys.setdefault(k, len(keys))
    G = len(keys)
    gdrop = [False] * G
    for i, d in enumerate(blk.drop_name):
        if d:
            gdrop[gid[i]] = True
    hm = blk.hist_mask()
    if hm is not None and op in ("topk", "bottomk", "min", "max", "stddev", "stdvar",
                                 "quantile"):
        if (hm & blk.present).any():
            ev.ctx.info(f"ignored histogram in {op} aggregation",
                        node if op in ("topk", "bottomk") else node.expr)
        blk = blk.floats_only()
        hm = None
    if op in ("topk", "bottomk", "limitk", "limit_ratio"):
        assert isinstance(param, Scalar)
        return _select(ev, blk, node, gid, G, param.values)
    if op == "quantile":
        assert isinstance(param, Scalar)
        res = _quantile(ev, blk, node, gid, G, keys, param.values)
        res.drop_name = gdrop
        return res.compact()
    if G == 0:
        return Block.empty(T)
    out = np.zeros((G, T))
    cnt = np.zeros((G, T))
    if hm is not None and op in ("sum", "avg"):
        fl = blk.floats_only()
        _agg_kernel(fl.values, fl.present, gid, G, _KIND[op], out, cnt)
        hist, ok = sum_histograms(ev, node, blk, hm, gid, G, op == "avg", cnt)
        return Block(list(keys), out, ok, gdrop, hist).compact()
    _agg_kernel(blk.values, blk.present, gid, G, _KIND[op], out, cnt)
    return Block(list(keys), out, cnt > 0, gdrop).compact()


def _count_values(blk: Block, node: ast.AggregateExpr, label: str, T: int) -> Block:
    if not is_utf8_name(label):
        raise ExecutionError(f"invalid label name {go_quote(label)}")
    bases: dict[Labels, int] = {}
    gid = np.array([bases.setdefault(_group_key(lb, node), len(bases)) for lb in blk.labels],
                   dtype=np.int64)
    hm = blk.hist_mask()
    extra: dict[Labels, np.ndarray] = {}
    if hm is not None:
        for i, j in zip(*np.nonzero(hm), strict=True):
            key = _group_key(blk.labels[i], node).with_label(label,
                                                               histogram_string(blk.hist[i, j]))
            extra.setdefault(key, np.zeros(T))[j] += 1
        blk = blk.floats_only()
    rows, cols = np.nonzero(blk.present)
    if len(rows) == 0 and not extra:
        return Block.empty(T)
    vals = blk.values[rows, cols]
    bits = np.where(np.isnan(vals), np.nan, vals).view(np.uint64)  # one NaN, one label
    # Count every (group, value) per step at once; format each distinct value once.
    combos, inv = np.unique(np.stack([gid[rows].astype(np.uint64), bits], axis=1), axis=0,
                            return_inverse=True)
    grid = np.zeros((len(combos), T))
    np.add.at(grid, (inv.ravel(), cols), 1)
    base_list = list(bases)
    counts: dict[Labels, np.ndarray] = {}
    for c, (g, b) in enumerate(combos.tolist()):
        value = float(np.array([b], dtype=np.uint64).view(np.float64)[0])
        key = base_list[int(g)].with_label(label, _fmt_value(value))
        prev = counts.get(key)
        counts[key] = grid[c] if prev is None else prev + grid[c]
    for key, row in extra.items():
        prev = counts.get(key)
        counts[key] = row if prev is None else prev + row
    labels = list(counts)
    vals = np.vstack([counts[k] for k in labels])
    return Block(labels, vals, vals > 0)


def _fmt_value(v: float) -> str:

    return format_float(v)


def _select(ev: Any, blk: Block, node: ast.AggregateExpr, gid: np.ndarray, G: int,
            k_arr: np.ndarray) -> Block:
    op = node.op
    T = ev.T
    present = np.zeros_like(blk.present)
    if op in ("topk", "bottomk", "limitk"):
        for j in range(T):
            k = k_arr[j]
            if math.isnan(k):
                raise ExecutionError("Parameter value is NaN")
        ks = np.array([max(0, min(int(k) if abs(k) < 2**62 else (2**62 if k > 0 else 0),
                                  len(blk))) for k in k_arr])
    if op == "limit_ratio":
        r = k_arr
        if np.isnan(r).any():
            raise ExecutionError("Ratio value is NaN")
        for x in np.unique(r):
            if x < -1 or x > 1:
                capped = 1 if x > 1 else -1
                ev.ctx.warn(f"ratio value should be between -1 and 1, got {_fmt_value(x)}, "
                            f"capping to {capped}", node.param)
        r = np.clip(r, -1, 1)

        for i, lb in enumerate(blk.labels):
            u = ratio_sample(lb)
            for j in range(T):
                rj = r[j]
                keep = (u < rj) if rj >= 0 else (u >= 1 + rj)
                present[i, j] = blk.present[i, j] and keep
        out = Block(blk.labels, blk.values, present, blk.drop_name, blk.hist).compact()
        return out
    order_cache: dict[int, list[int]] = {}
    for g in range(G):
        order_cache[g] = list(np.flatnonzero(gid == g))
    for rows in order_cache.values():
        rows_a = np.array(rows)
        p = blk.present[rows_a]
        if op == "limitk":
            rank = np.cumsum(p, axis=0) - 1
        else:
            # Rank every (series, step) at once: NaN loses to any number, absent comes last.
            v = blk.values[rows_a]
            if op == "topk":
                key = np.where(np.isnan(v), np.inf, -v)
            else:
                key = np.where(np.isnan(v), np.inf, v)
            key = np.where(p, key, np.nan)
            order = np.argsort(key, axis=0, kind="stable")
            rank = np.empty_like(order)
            np.put_along_axis(rank, order, np.arange(len(rows_a))[:, None].repeat(T, 1), 0)
        present[rows_a] = p & (rank < ks[None, :])
    out = Block(blk.labels, blk.values, present, blk.drop_name, blk.hist)
    if T == 1 and op in ("topk", "bottomk"):
        # Instant results come out ordered by value within each group, as Prometheus does.
        rows = [i for i in range(len(blk)) if present[i, 0]]
        rows.sort(key=lambda i: (gid[i], _sort_key(blk.values[i, 0], op == "topk")))
        return out.take(rows)
    return out.compact()


def _sort_key(v: float, desc: bool) -> tuple[int, float]:
    if math.isnan(v):
        return (1, 0.0)
    return (0, -v if desc else v)


def _quantile(ev: Any, blk: Block, node: ast.AggregateExpr, gid: np.ndarray, G: int,
              keys: dict[Labels, int], q: np.ndarray) -> Block:
    T = ev.T

    for x in np.unique(q):
        if math.isnan(x) or x < 0 or x > 1:
            ev.ctx.warn(f"quantile value should be between 0 and 1, got {_fmt_value(x)}",
                        node.param)
    out = np.zeros((G, T))
    pres = np.zeros((G, T), dtype=bool)
    for g in range(G):
        rows = np.flatnonzero(gid == g)
        for j in range(T):
            m = blk.present[rows, j]
            if not m.any():
                continue
            xs = nan_first_sort(blk.values[rows[m], j])
            out[g, j] = _quantile_sorted(xs, q[j]) if not math.isnan(q[j]) else math.nan
            pres[g, j] = True
    return Block(list(keys), out, pres)
