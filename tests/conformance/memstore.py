"""A tiny in-memory ``Queryable`` for the conformance scripts (a fake at the seam)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tidewell.model import Labels, Matcher, Series


class MemQuerier:
    def __init__(self, store: MemStore, mint: int, maxt: int) -> None:
        self.store, self.mint, self.maxt = store, mint, maxt

    def _matching(self, matchers: Sequence[Matcher]) -> list[Series]:
        out = []
        for lb, (ts, vs, *rest) in self.store.series.items():
            sts = rest[0] if rest else None  # callers may store plain (ts, values) pairs
            if all(m.matches_labels(lb) for m in matchers):
                a = np.searchsorted(ts, self.mint, side="left")
                b = np.searchsorted(ts, self.maxt, side="right")
                if b > a:
                    out.append(Series(lb, ts[a:b], vs[a:b],
                                      None if sts is None else sts[a:b]))
        out.sort(key=lambda x: x.labels)
        return out

    def select(self, matchers: Sequence[Matcher]) -> list[Series]:
        return self._matching(matchers)

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({n for s in self._matching(matchers) for n, _ in s.labels})

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({s.labels.get(name) for s in self._matching(matchers)} - {""})


class MemStore:
    """Series kept as sorted numpy arrays; ``add`` merges and keeps the newest value.

    Start timestamps (0 = unknown) are kept only for series loaded with some."""

    def __init__(self) -> None:
        self.series: dict[Labels, tuple[np.ndarray, ...]] = {}

    def add(self, labels: Labels, ts: Sequence[int], vals: Sequence[float],
            sts: Sequence[int] | None = None) -> None:
        t = np.asarray(ts, dtype=np.int64)
        v = np.asarray(vals, dtype=np.float64)
        st = None if sts is None else np.asarray(sts, dtype=np.int64)
        old = self.series.get(labels)
        if old is not None:
            old = (*old, None) if len(old) == 2 else old
            if st is not None or old[2] is not None:
                st = np.concatenate([old[2] if old[2] is not None else np.zeros_like(old[0]),
                                     st if st is not None else np.zeros_like(t)])
            t = np.concatenate([old[0], t])
            v = np.concatenate([old[1], v])
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
        st = None if st is None else st[order]
        if len(t) > 1:
            keep = np.ones(len(t), dtype=bool)
            keep[:-1] = t[1:] != t[:-1]
            t, v = t[keep], v[keep]
            st = None if st is None else st[keep]
        self.series[labels] = (t, v, st)

    def clear(self) -> None:
        self.series.clear()

    def querier(self, tenant: str, mint: int, maxt: int) -> MemQuerier:
        return MemQuerier(self, mint, maxt)
