"""``info(v, {data labels})``: enrich series with labels of matching info metrics.

Follows Prometheus's rules: info series are found by the identifying labels
(``instance``, ``job``) of the input; the newest info sample wins when
several share a signature; the input series that are info metrics themselves
pass through unchanged.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from tidewell.model import METRIC_NAME, Labels, Matcher, MatchType
from tidewell.model.samples import stale_mask
from tidewell.promql import nodes as ast
from tidewell.promql.errors import ExecutionError
from tidewell.promql.values import Block

__all__ = ["eval_info"]

_ID_LABELS = ("instance", "job")


def _effective_name_matchers(ms: list[Matcher]) -> list[Matcher]:
    if any(m.type in (MatchType.EQUAL, MatchType.REGEX) for m in ms):
        return ms
    if ms:
        return [Matcher(MatchType.REGEX, METRIC_NAME, ".+_info"), *ms]
    return [Matcher(MatchType.EQUAL, METRIC_NAME, "target_info")]


def _first_selector_mods(expr: ast.Expr) -> tuple[ast.AtOffset | None, list[ast.AtOffset]]:
    for node, path in ast.walk(expr):
        if isinstance(node, ast.VectorSelector):
            subs = [p.mods for p in path if isinstance(p, ast.SubqueryExpr)]
            return node.mods, subs
    return None, []


def _info_times(ev: Any, expr: ast.Expr) -> np.ndarray:
    mods, subs = _first_selector_mods(expr)
    if mods is None:
        return ev.times
    offset = ev.duration_ms(mods.offset)
    at = mods
    if at.at is None and not at.at_keyword:
        for sm in reversed(subs):
            offset += ev.duration_ms(sm.offset)
            if sm.at is not None or sm.at_keyword:
                at = sm
                break
    if at.at is not None:
        base = np.full(ev.T, round(at.at * 1000), dtype=np.int64)
    elif at.at_keyword:
        t = ev.ctx.qstart if at.at_keyword == "start" else ev.ctx.qend
        base = np.full(ev.T, t, dtype=np.int64)
    else:
        base = ev.times
    return base - offset


def eval_info(ev: Any, node: ast.Call) -> Block:
    base = ev.eval(node.args[0])
    data: dict[str, list[Matcher]] = {}
    name_ms: list[Matcher] = []
    if len(node.args) > 1:
        sel = node.args[1]
        assert isinstance(sel, ast.VectorSelector)
        for m in sel.matchers:
            data.setdefault(m.name, []).append(m)
            if m.name == METRIC_NAME:
                name_ms.append(m)
    else:
        name_ms = [Matcher(MatchType.EQUAL, METRIC_NAME, "target_info")]
    eff = _effective_name_matchers(name_ms)
    ignore = [all(m.matches(lb.name) for m in eff) for lb in base.labels]
    id_vals: dict[str, set[str]] = {}
    for lb, ign in zip(base.labels, ignore, strict=True):
        if ign:
            continue
        for n in _ID_LABELS:
            v = lb.get(n)
            if v:
                id_vals.setdefault(n, set()).add(v)
    info_names = [m for ms in data.values() for m in ms if m.name == METRIC_NAME]
    data = {k: v for k, v in data.items() if k != METRIC_NAME}
    info_labels: list[Labels] = []
    info_t = np.zeros((0, ev.T))
    info_p = np.zeros((0, ev.T), dtype=bool)
    if id_vals:
        matchers = [Matcher(MatchType.REGEX, n, "|".join(re.escape(v) for v in sorted(vals)))
                    for n, vals in id_vals.items()]
        matchers += [m for ms in data.values() for m in ms]
        matchers += _effective_name_matchers(info_names)
        tt = _info_times(ev, node.args[0])
        lbd = ev.ctx.engine.opts.lookback_delta_ms
        from tidewell.promql.engine import select_series

        series = select_series(ev.ctx, matchers, int(tt.min()) - lbd + 1, int(tt.max()))
        info_t = np.zeros((len(series), ev.T))
        info_p = np.zeros((len(series), ev.T), dtype=bool)
        for i, s in enumerate(series):
            if s.histograms is not None and len(s.histograms):
                raise ExecutionError("this should be an info metric, with float samples: "
                                     f"{s.labels}")
            info_labels.append(s.labels)
            idx = np.searchsorted(s.timestamps, tt, side="right") - 1
            ok = idx >= 0
            idxc = np.where(ok, idx, 0)
            t_at = s.timestamps[idxc] if len(s.timestamps) else np.zeros(ev.T, np.int64)
            ok &= (t_at > tt - lbd) & ~stale_mask(s.values[idxc])
            info_t[i] = t_at
            info_p[i] = ok
    names = sorted({lb.name for lb in info_labels})

    def sig(name: str, lb: Labels) -> tuple[Any, ...]:
        return (name, *((n, lb.get(n)) for n in _ID_LABELS))

    info_sigs = [sig(lb.name, lb) for lb in info_labels]
    all_match_empty = all(m.matches("") for ms in data.values() for m in ms)
    out: dict[Labels, list[Any]] = {}
    for j in range(ev.T):
        right: dict[tuple[Any, ...], int] = {}
        for i in np.flatnonzero(info_p[:, j]):
            s = info_sigs[i]
            prev = right.get(s)
            if prev is None or info_t[prev, j] < info_t[i, j]:
                right[s] = int(i)
            elif info_t[prev, j] == info_t[i, j]:
                raise ExecutionError(
                    f"found duplicate series for info metric: existing {info_labels[prev]} @ "
                    f"{int(info_t[prev, j])}, new {info_labels[i]} @ {int(info_t[i, j])}")
        for r in np.flatnonzero(base.present[:, j]):
            blb = base.labels[r]
            if ignore[r]:
                lb = blb
            else:
                add: dict[str, str] = {}
                seen = 0
                for name in names:
                    hit = right.get(sig(name, blb))
                    if hit is None:
                        continue
                    for n, v in info_labels[hit]:
                        if n == METRIC_NAME or (data and n not in data):
                            continue
                        if add.get(n, v) != v:
                            raise ExecutionError(f"conflicting label: {n}")
                        if blb.has(n):
                            continue
                        add[n] = v
                    seen += 1
                if seen == 0 and not all_match_empty:
                    continue
                lb = Labels([*blb, *add.items()]) if add else blb
            entry = out.get(lb)
            if entry is None:
                entry = out[lb] = [np.zeros(ev.T), np.zeros(ev.T, dtype=bool), base.drop_name[r],
                                   np.full(ev.T, None, dtype=object)]
            elif entry[1][j]:
                raise ExecutionError("vector cannot contain metrics with the same labelset")
            entry[0][j] = base.values[r, j]
            entry[1][j] = True
            if base.hist is not None:
                entry[3][j] = base.hist[r, j]
    if not out:
        return Block.empty(ev.T)
    labels = list(out)
    hist = np.vstack([out[k][3] for k in labels]) if base.hist is not None else None
    return Block(labels, np.vstack([out[k][0] for k in labels]),
                 np.vstack([out[k][1] for k in labels]), [out[k][2] for k in labels], hist)
