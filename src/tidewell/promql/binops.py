"""Binary operators: arithmetic, comparison, set operators and vector matching.

Matching works on whole rows: series are paired by their matching signature
once, then the operator runs on (pairs x steps) arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tidewell.model import METRIC_NAME, Labels, pairs_string
from tidewell.promql import nodes as ast
from tidewell.promql.errors import ExecutionError
from tidewell.promql.values import NAME_LABELS, Block, Scalar

__all__ = ["apply_op", "eval_binary", "materialize_names"]

_CMP = {"==", "!=", "<", ">", "<=", ">="}


def apply_op(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return np.true_divide(a, b)
        if op == "%":
            return np.fmod(a, b)
        if op == "^":
            return np.power(a, b)
        if op == "atan2":
            return np.arctan2(a, b)
        if op in ("</", ">/"):  # only histograms have a result (see hbinop)
            return np.zeros(np.broadcast_shapes(np.shape(a), np.shape(b)))
        if op == "==":
            return (a == b).astype(float)
        if op == "!=":
            return (a != b).astype(float)
        if op == "<":
            return (a < b).astype(float)
        if op == ">":
            return (a > b).astype(float)
        if op == "<=":
            return (a <= b).astype(float)
        if op == ">=":
            return (a >= b).astype(float)
    raise ExecutionError(f"operator {op!r} not allowed")


def materialize_names(b: Block) -> Block:
    """Apply pending ``__name__`` drops (delayed name removal) before label-wise work."""
    if not any(b.drop_name):
        return b
    labels = [lb.without(*NAME_LABELS) if d else lb for lb, d in zip(b.labels, b.drop_name,
                                                                     strict=True)]
    return Block(labels, b.values, b.present, [False] * len(labels), b.hist)


def eval_binary(ev: Any, node: ast.BinaryExpr) -> Any:
    lhs = ev.eval(node.lhs)
    rhs = ev.eval(node.rhs)
    op = node.op
    trim_op = op in ("</", ">/")
    if trim_op and not any(isinstance(v, Block) and v.hist is not None for v in (lhs, rhs)):
        # Histogram trimming; float samples are incompatible and yield nothing.
        if (isinstance(lhs, Block) and lhs.present.any()) or (
                isinstance(rhs, Block) and rhs.present.any()):
            ev.ctx.info(f'incompatible sample types encountered for binary operator "{op}": '
                        f"float {op} float", node)
        return Block.empty(ev.T)
    is_cmp = op in _CMP
    if isinstance(lhs, Scalar) and isinstance(rhs, Scalar):
        return Scalar(apply_op(op, lhs.values, rhs.values))
    if isinstance(lhs, Scalar) or isinstance(rhs, Scalar):
        vec, sc, swap = (rhs, lhs, True) if isinstance(lhs, Scalar) else (lhs, rhs, False)
        s = sc.values[None, :]
        a, b = (s, vec.values) if swap else (vec.values, s)
        res = apply_op(op, a, b)
        present = vec.present.copy()
        drop = list(vec.drop_name) if trim_op else [True] * len(vec)
        if is_cmp:
            if node.return_bool:
                values = res
            else:
                present &= res == 1.0
                values = vec.values
                drop = list(vec.drop_name)
        else:
            values = res
        values = np.broadcast_to(values, vec.values.shape).copy()
        if vec.hist is not None:
            return _scalar_hist(ev, node, vec, sc.values, swap, values, present, drop)
        return Block(vec.labels, values, present, drop).compact()
    assert isinstance(lhs, Block) and isinstance(rhs, Block)
    m = node.matching or ast.VectorMatching()
    if op in ("and", "or", "unless"):
        return _set_op(op, lhs, rhs, m)
    return _vector_op(ev, node, materialize_names(lhs), materialize_names(rhs), m)


def _scalar_hist(ev: Any, node: ast.BinaryExpr, vec: Block, s: np.ndarray, swap: bool,
                 values: np.ndarray, present: np.ndarray, drop: list[bool]) -> Block:
    """Vector-scalar operator rows where the vector holds histograms."""
    from tidewell.promql.hbinop import fix_row

    assert vec.hist is not None
    hist = np.full(values.shape, None, dtype=object)
    pres_out = present.copy()
    for i in range(len(vec)):
        cells = vec.present[i]
        a_f, b_f = (s, vec.values[i]) if swap else (vec.values[i], s)
        a_h, b_h = (None, vec.hist[i]) if swap else (vec.hist[i], None)
        r, p, h = fix_row(ev, node, a_f, b_f, a_h, b_h, cells, values[i], pres_out[i])
        values[i], pres_out[i] = r, p
        if h is not None:
            hist[i] = h
    return Block(vec.labels, values, pres_out, drop, hist).compact()


def _sig(lb: Labels, m: ast.VectorMatching) -> tuple[tuple[str, str], ...]:
    if m.on:
        keep = set(m.labels)
        return tuple(p for p in lb if p[0] in keep)
    drop = set(m.labels)
    drop.add(METRIC_NAME)
    return tuple(p for p in lb if p[0] not in drop)


def _set_op(op: str, lhs: Block, rhs: Block, m: ast.VectorMatching) -> Block:
    T = lhs.values.shape[1] if len(lhs) else rhs.values.shape[1]
    rsig: dict[Any, np.ndarray] = {}
    for i, lb in enumerate(rhs.labels):
        k = _sig(lb, m)
        cur = rsig.get(k)
        rsig[k] = rhs.present[i].copy() if cur is None else (cur | rhs.present[i])
    if op == "and" or op == "unless":
        present = lhs.present.copy()
        for i, lb in enumerate(lhs.labels):
            hit = rsig.get(_sig(lb, m))
            if hit is None:
                hit = np.zeros(T, dtype=bool)
            present[i] &= hit if op == "and" else ~hit
        return Block(lhs.labels, lhs.values, present, lhs.drop_name, lhs.hist).compact()
    # or: all of lhs, plus rhs where no lhs series with the same signature is present
    lsig: dict[Any, np.ndarray] = {}
    for i, lb in enumerate(lhs.labels):
        k = _sig(lb, m)
        cur = lsig.get(k)
        lsig[k] = lhs.present[i].copy() if cur is None else (cur | lhs.present[i])
    rpresent = rhs.present.copy()
    for i, lb in enumerate(rhs.labels):
        hit = lsig.get(_sig(lb, m))
        if hit is not None:
            rpresent[i] &= ~hit
    hist = None
    if lhs.hist is not None or rhs.hist is not None:
        hist = np.vstack([_hist_or_none(lhs), _hist_or_none(rhs)])
    out = Block(lhs.labels + rhs.labels, np.vstack([lhs.values, rhs.values]),
                np.vstack([lhs.present, rpresent]), lhs.drop_name + rhs.drop_name, hist)
    return out.compact()


def _hist_or_none(b: Block) -> np.ndarray:
    if b.hist is not None:
        return b.hist
    return np.full(b.values.shape, None, dtype=object)


def _vector_op(ev: Any, node: ast.BinaryExpr, lhs: Block, rhs: Block,
               m: ast.VectorMatching) -> Block:
    op = node.op
    is_cmp = op in _CMP
    T = ev.T
    card = m.card
    one, many = (rhs, lhs) if card != "one-to-many" else (lhs, rhs)
    # Index the "one" side by signature; detect duplicates present at the same step.
    one_idx: dict[Any, list[int]] = {}
    for i, lb in enumerate(one.labels):
        one_idx.setdefault(_sig(lb, m), []).append(i)
    side = "right" if card != "one-to-many" else "left"
    one_val: dict[Any, tuple[np.ndarray, np.ndarray, int]] = {}
    one_hist: dict[Any, np.ndarray] = {}
    for k, rows in one_idx.items():
        if len(rows) == 1:
            r = rows[0]
            one_val[k] = (one.values[r], one.present[r], r)
            if one.hist is not None:
                one_hist[k] = one.hist[r]
            continue
        cnt = one.present[rows].sum(axis=0)
        if (cnt > 1).any():
            labs = ", ".join(one.labels[r].prom_string() for r in rows)
            sig = pairs_string(k)
            raise ExecutionError(
                f"found duplicate series for the match group {sig} on the {side} hand-side of "
                f"the operation: [{labs}];many-to-many matching not allowed: matching labels "
                "must be unique on one side")
        v = np.zeros(T)
        p = np.zeros(T, dtype=bool)
        for r in rows:
            v = np.where(one.present[r], one.values[r], v)
            p |= one.present[r]
        one_val[k] = (v, p, rows[0])
        if one.hist is not None:
            h = np.full(T, None, dtype=object)
            for r in rows:
                h = np.where(one.present[r], one.hist[r], h)
            one_hist[k] = h
    # As in Prometheus, fill_right always stands in for the "one" side and fill_left
    # for the "many" side, whichever side of the operator each is on.
    fill_many = m.fill_left
    fill_one = m.fill_right
    out_labels: list[Labels] = []
    out_vals: list[np.ndarray] = []
    out_pres: list[np.ndarray] = []
    out_drop: list[bool] = []
    out_hist: list[np.ndarray | None] = []
    has_hist = lhs.hist is not None or rhs.hist is not None
    if has_hist:
        from tidewell.promql.hbinop import fix_row
    matched_one: dict[Any, np.ndarray] = {}
    result_seen: dict[Labels, np.ndarray] = {}
    sig_seen: dict[Any, np.ndarray] = {}
    drop_name = (not is_cmp and op not in ("</", ">/")) or node.return_bool
    for i, lb in enumerate(many.labels):
        k = _sig(lb, m)
        hit = one_val.get(k)
        if hit is None:
            if fill_one is None:
                continue
            ov, op_, orow = np.full(T, fill_one), np.ones(T, dtype=bool), -1
        else:
            ov, op_, orow = hit
            if fill_one is not None:
                ov = np.where(op_, ov, fill_one)
                op_ = np.ones(T, dtype=bool)
        pres = many.present[i] & op_
        if not pres.any():
            continue
        if hit is not None:
            prev = matched_one.get(k)
            matched_one[k] = pres if prev is None else (prev | pres)
        a, b = (many.values[i], ov) if card != "one-to-many" else (ov, many.values[i])
        res = apply_op(op, a, b)
        cand = pres
        if card == "one-to-one" and hit is not None:
            prev = sig_seen.get(k)
            if prev is not None and (prev & pres).any():
                raise ExecutionError(
                    "multiple matches for labels: many-to-one matching must be explicit "
                    "(group_left/group_right)")
            sig_seen[k] = pres if prev is None else (prev | pres)
        if is_cmp and not node.return_bool:
            pres = pres & (res == 1.0)
            res = a
        hrow = None
        if has_hist:
            mh = many.hist[i] if many.hist is not None else None
            oh = one_hist.get(k) if hit is not None else None
            ah, bh = (mh, oh) if card != "one-to-many" else (oh, mh)
            res, pres, hrow = fix_row(ev, node, a, b, ah, bh, cand, res, pres)
            if not pres.any():
                continue
        other = one.labels[orow] if orow >= 0 else Labels.from_sorted(k)
        olb = _result_labels(lb, other, m, drop_name)
        if card == "one-to-one":
            pass
        elif card in ("many-to-one", "one-to-many"):
            prev = result_seen.get(olb)
            if prev is not None and (prev & pres).any():
                raise ExecutionError("multiple matches for labels: grouping labels must ensure "
                                     "unique matches")
            result_seen[olb] = pres if prev is None else (prev | pres)
        out_labels.append(olb)
        out_vals.append(res)
        out_pres.append(pres)
        out_hist.append(hrow)
        out_drop.append(drop_name if True else False)
    if card == "one-to-one":
        # one-to-one: detect many side duplicates matching one "one" series
        pass
    if fill_many is not None:
        for k, (v, p, orow) in one_val.items():
            miss = p & ~matched_one.get(k, np.zeros(T, dtype=bool))
            if not miss.any():
                continue
            mv = np.full(T, fill_many)
            a, b = (mv, v) if card != "one-to-many" else (v, mv)
            res = apply_op(op, a, b)
            pres = miss.copy()
            if is_cmp and not node.return_bool:
                pres &= res == 1.0
                res = a
            hrow = None
            if has_hist and k in one_hist:
                ah, bh = (None, one_hist[k]) if card != "one-to-many" else (one_hist[k], None)
                res, pres, hrow = fix_row(ev, node, a, b, ah, bh, miss, res, pres)
            olb = _result_labels(Labels.from_sorted(k), one.labels[orow], m, drop_name)
            out_labels.append(olb)
            out_vals.append(res)
            out_pres.append(pres)
            out_hist.append(hrow)
            out_drop.append(drop_name)
    if not out_labels:
        return Block.empty(T)
    # Names: comparisons without bool keep the many side's name.
    final_labels = []
    for lb, d in zip(out_labels, out_drop, strict=True):
        final_labels.append(lb.without(*NAME_LABELS) if d else lb)
    hist = None
    if any(h is not None for h in out_hist):
        hist = np.vstack([h if h is not None else np.full(T, None, dtype=object)
                          for h in out_hist])
    return Block(final_labels, np.vstack(out_vals), np.vstack(out_pres), hist=hist).compact()


def _result_labels(lb: Labels, other: Labels | None, m: ast.VectorMatching,
                   drop_name: bool) -> Labels:
    if drop_name:
        lb = lb.without(*NAME_LABELS)
    if m.card == "one-to-one":
        if m.on:
            return lb.only(*m.labels)
        if m.labels:
            return lb.without(*m.labels)
        return lb
    if other is not None:
        d = dict(lb)
        for name in m.include:
            v = other.get(name)
            if v:
                d[name] = v
            else:
                d.pop(name, None)
        return Labels(d.items())
    return lb
