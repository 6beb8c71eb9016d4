"""A tiny in-memory ``Queryable`` for the conformance scripts (a fake at the seam)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tidewell.model import Labels, Matcher, Series


class MemQuerier:
    def __init__(self, store: MemStore, mint: int, maxt: int) -> None:
        self.store, self.mint, self.maxt = store, mint, maxt

    def _matching(self, matchers: Sequence[Matcher]) -> list[tuple[Labels, np.ndarray,
                                                                   np.ndarray]]:
        out = []
        for lb, (ts, vs) in self.store.series.items():
            if all(m.matches_labels(lb) for m in matchers):
                a = np.searchsorted(ts, self.mint, side="left")
                b = np.searchsorted(ts, self.maxt, side="right")
                if b > a:
                    out.append((lb, ts[a:b], vs[a:b]))
        out.sort(key=lambda x: x[0])
        return out

    def select(self, matchers: Sequence[Matcher]) -> list[Series]:
        return [Series(lb, ts, vs) for lb, ts, vs in self._matching(matchers)]

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({n for lb, _, _ in self._matching(matchers) for n, _ in lb})

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({lb.get(name) for lb, _, _ in self._matching(matchers)} - {""})


class MemStore:
    """Series kept as sorted numpy arrays; ``add`` merges and keeps the newest value."""

    def __init__(self) -> None:
        self.series: dict[Labels, tuple[np.ndarray, np.ndarray]] = {}

    def add(self, labels: Labels, ts: Sequence[int], vals: Sequence[float]) -> None:
        t = np.asarray(ts, dtype=np.int64)
        v = np.asarray(vals, dtype=np.float64)
        old = self.series.get(labels)
        if old is not None:
            t = np.concatenate([old[0], t])
            v = np.concatenate([old[1], v])
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
        if len(t) > 1:
            keep = np.ones(len(t), dtype=bool)
            keep[:-1] = t[1:] != t[:-1]
            t, v = t[keep], v[keep]
        self.series[labels] = (t, v)

    def clear(self) -> None:
        self.series.clear()

    def querier(self, tenant: str, mint: int, maxt: int) -> MemQuerier:
        return MemQuerier(self, mint, maxt)
