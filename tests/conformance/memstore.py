"""A tiny in-memory ``Queryable`` for the conformance scripts (a fake at the seam)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from tidewell.model import CounterResetHint, Histogram, HistogramSamples, Labels, Matcher, Series
from tidewell.promql.nhist import detect_reset, from_model


class MemQuerier:
    def __init__(self, store: MemStore, mint: int, maxt: int) -> None:
        self.store, self.mint, self.maxt = store, mint, maxt

    def _matching(self, matchers: Sequence[Matcher]) -> list[Series]:
        out = []
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0), None)
        hists = self.store.hists
        for lb in self.store.series.keys() | hists.keys():
            ts, vs, *rest = self.store.series.get(lb, empty)
            sts = rest[0] if rest else None  # callers may store plain (ts, values) pairs
            if all(m.matches_labels(lb) for m in matchers):
                a = np.searchsorted(ts, self.mint, side="left")
                b = np.searchsorted(ts, self.maxt, side="right")
                hs = None
                if lb in hists:
                    hts, hvs, hsts = hists[lb]
                    ha = int(np.searchsorted(hts, self.mint, side="left"))
                    hb = int(np.searchsorted(hts, self.maxt, side="right"))
                    if hb > ha:
                        hs = HistogramSamples(hts[ha:hb], hvs[ha:hb],
                                              None if hsts is None else hsts[ha:hb])
                if b > a or hs is not None:
                    out.append(Series(lb, ts[a:b], vs[a:b],
                                      None if sts is None else sts[a:b], hs))
        out.sort(key=lambda x: x.labels)
        return out

    def select(self, matchers: Sequence[Matcher], hints: object = None) -> list[Series]:
        return self._matching(matchers)

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({n for s in self._matching(matchers) for n, _ in s.labels})

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({s.labels.get(name) for s in self._matching(matchers)} - {""})


def tsdb_hints(hists: list[Histogram]) -> list[Histogram]:
    """Counter-reset hints as Prometheus's TSDB returns them from its chunks.

    A chunk's first sample reads back as ``UNKNOWN`` (even when the chunk was
    cut for a reset: prometheus/prometheus#15346); later samples of a counter
    chunk read back as ``NOT_COUNTER_RESET``; gauge histograms stay gauges. A new
    chunk starts at a reset, a gauge/counter switch and a layout change."""
    out: list[Histogram] = []
    prev = None
    for h in hists:
        hint = h.counter_reset_hint
        if hint != CounterResetHint.GAUGE:
            cur = from_model(h)
            if prev is None or prev.hint == CounterResetHint.GAUGE or detect_reset(cur, prev) \
                    or (cur.schema != prev.schema or cur.zero_threshold != prev.zero_threshold
                        or cur.custom_values != prev.custom_values):
                hint = CounterResetHint.UNKNOWN
            else:
                hint = CounterResetHint.NOT_COUNTER_RESET
            h = replace(h, counter_reset_hint=hint)
        prev = from_model(h)
        out.append(h)
    return out


class MemStore:
    """Series kept as sorted numpy arrays; ``add`` merges and keeps the newest value.

    Start timestamps (0 = unknown) are kept only for series loaded with some."""

    def __init__(self) -> None:
        self.series: dict[Labels, tuple[np.ndarray, ...]] = {}
        self.hists: dict[Labels, tuple[np.ndarray, list[Histogram], np.ndarray | None]] = {}
        self.version = 0
        """Bumped by every change, so a copy elsewhere (the storage run) knows it is stale."""

    def add_histograms(self, labels: Labels, ts: Sequence[int], hists: Sequence[Histogram],
                       sts: Sequence[int] | None = None) -> None:
        """Native histogram samples (``sts``: their start timestamps, 0 = unknown); a later
        sample at the same time replaces the earlier."""
        old = self.hists.get(labels)
        by_t = dict(zip(old[0].tolist(), old[1], strict=True)) if old else {}
        by_t.update(zip(ts, hists, strict=True))
        st_by_t: dict[int, int] | None = None
        if sts is not None or (old and old[2] is not None):
            st_by_t = dict(zip(old[0].tolist(), old[2].tolist(), strict=True)) \
                if old and old[2] is not None else {}
            st_by_t.update(zip(ts, sts if sts is not None else [0] * len(ts), strict=True))
        order = sorted(by_t)
        self.version += 1
        self.hists[labels] = (
            np.array(order, dtype=np.int64), tsdb_hints([by_t[t] for t in order]),
            None if st_by_t is None else np.array([st_by_t.get(t, 0) for t in order],
                                                  dtype=np.int64))

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
        self.version += 1

    def clear(self) -> None:
        self.series.clear()
        self.hists.clear()
        self.version += 1

    def querier(self, tenant: str, mint: int, maxt: int) -> MemQuerier:
        return MemQuerier(self, mint, maxt)
