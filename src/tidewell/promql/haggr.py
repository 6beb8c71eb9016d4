"""``sum``/``avg`` over groups whose samples include native histograms."""

from __future__ import annotations

from typing import Any

import numpy as np

from tidewell.model import CounterResetHint
from tidewell.promql import nhist
from tidewell.promql import nodes as ast
from tidewell.promql.nhist import FH, HistError
from tidewell.promql.values import Block

__all__ = ["sum_histograms"]


def sum_histograms(ev: Any, node: ast.AggregateExpr, blk: Block, hm: np.ndarray,
                   gid: np.ndarray, G: int, avg: bool,
                   fcnt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Histogram sums (or means) per group and step, and which cells hold a result.

    ``fcnt`` counts each cell's float samples: a cell with floats and histograms
    has no result (Prometheus warns); a cell with floats only keeps its float."""
    T = ev.T
    hist = np.full((G, T), None, dtype=object)
    ok = fcnt > 0
    acc: dict[tuple[int, int], list[FH]] = {}
    rows, cols = np.nonzero(hm & blk.present)
    for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
        acc.setdefault((int(gid[i]), j), []).append(blk.hist[i, j])
    for (g, j), hs in acc.items():
        if fcnt[g, j] > 0:
            ev.ctx.warn("encountered a mix of histograms and floats for aggregation", node.expr)
            ok[g, j] = False
            continue
        hints = {h.hint for h in hs}
        try:
            total, reconciled = nhist.hmean(hs) if avg else nhist.hsum(hs)
            if reconciled:
                ev.ctx.info("mismatched custom buckets were reconciled during aggregation",
                            node.expr)
        except HistError:
            name = next(blk.labels[i].name for i in rows if gid[i] == g)
            ev.ctx.warn("vector contains a mix of histograms with exponential and custom "
                        f'buckets schemas for metric name "{name}"', node.expr)
            continue
        if {CounterResetHint.COUNTER_RESET, CounterResetHint.NOT_COUNTER_RESET} <= hints:
            ev.ctx.warn("conflicting counter resets during histogram aggregation", node.expr)
        hist[g, j] = total
        ok[g, j] = True
    return hist, ok
