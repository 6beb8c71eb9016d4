"""Binary operators on cells holding native histograms (Prometheus's ``vectorElemBinop``).

The float result of a row is computed as usual; cells where either operand
is a histogram are then replaced here: ``+``/``-`` between histograms,
``*``/``/`` by a float, ``==``/``!=`` between histograms, and an info
annotation for every other pairing (no result).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tidewell.model import CounterResetHint
from tidewell.promql import nhist
from tidewell.promql import nodes as ast
from tidewell.promql.htrim import trim
from tidewell.promql.nhist import FH, HistError

__all__ = ["fix_row"]

_CMP = {"==", "!=", "<", ">", "<=", ">="}
_TRIM = {"</", ">/"}


def _elem(ev: Any, node: ast.BinaryExpr, fa: float, fb: float, ha: FH | None,
          hb: FH | None) -> tuple[float, FH | None, bool] | None:
    """(value, histogram, keep) of one cell, or None when the pairing has no result."""
    op = node.op
    if ha is None and hb is not None:
        if op == "*":
            return 0.0, hb.scaled(fa), True
        return _incompatible(ev, node, "float", "histogram")
    if ha is not None and hb is None:
        if op in _TRIM:
            return 0.0, trim(ha, fb, op == "</"), True
        if op == "*":
            return 0.0, ha.scaled(fb), True
        if op == "/":
            return 0.0, ha.divided(fb), True
        return _incompatible(ev, node, "histogram", "float")
    assert ha is not None and hb is not None
    if op in ("+", "-"):
        try:
            r = nhist.add(ha, hb, 1.0 if op == "+" else -1.0)
        except HistError:
            ev.ctx.warn(f"incompatible bucket layout encountered for binary operator {op}", node)
            return None
        name = "addition" if op == "+" else "subtraction"
        if r.collision:
            ev.ctx.warn(f"conflicting counter resets during histogram {name}", node)
        if r.reconciled:
            ev.ctx.info(f"mismatched custom buckets were reconciled during {name}", node)
        if op == "-":
            r.h.hint = CounterResetHint.GAUGE
        return 0.0, r.h, True
    if op in ("==", "!="):
        eq = nhist.equal(ha, hb)
        return 0.0, ha, eq if op == "==" else not eq
    return _incompatible(ev, node, "histogram", "histogram")


def _incompatible(ev: Any, node: ast.BinaryExpr, lt: str, rt: str) -> None:
    op = node.op
    ev.ctx.info(f'incompatible sample types encountered for binary operator "{op}": '
                f"{lt} {op} {rt}", node)
    return None


def fix_row(ev: Any, node: ast.BinaryExpr, fa: np.ndarray, fb: np.ndarray,
            ha: np.ndarray | None, hb: np.ndarray | None, cells: np.ndarray,
            res: np.ndarray, pres: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                        np.ndarray | None]:
    """Recompute the ``cells`` (candidate steps) where an operand is a histogram."""
    T = len(res)
    fa = np.broadcast_to(fa, (T,))
    fb = np.broadcast_to(fb, (T,))
    hrow = None
    touched = False
    for j in np.flatnonzero(cells):
        a = ha[j] if ha is not None else None
        b = hb[j] if hb is not None else None
        if a is None and b is None:
            if node.op in _TRIM:
                _incompatible(ev, node, "float", "float")
                res, pres, touched = (res, pres, True) if touched else (res.copy(),
                                                                         pres.copy(), True)
                pres[j] = False
            continue
        if not touched:
            res, pres, touched = res.copy(), pres.copy(), True
        out = _elem(ev, node, float(fa[j]), float(fb[j]), a, b)
        if out is None:
            pres[j] = False
            continue
        v, h, keep = out
        if node.op in _CMP and node.return_bool:
            res[j], pres[j] = (1.0 if keep else 0.0), True
            continue
        pres[j] = keep
        if keep and h is not None:
            if hrow is None:
                hrow = np.full(T, None, dtype=object)
            hrow[j] = h
        else:
            res[j] = v
    return res, pres, hrow
