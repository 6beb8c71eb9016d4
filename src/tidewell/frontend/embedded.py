"""The answers of embedded queries as storage for the frontend's engine (Mimir's
``shardedQueryable``).

Each embedded selector's queries were run on the queriers; their JSON answers
become ``Series`` here. A query's answer has had its staleness markers removed by
the querier's engine, so a gap in it would let the frontend's engine look back
over it: as Mimir does, a staleness marker is put one step after every point that
the next does not follow within a step, and one after the last point (for native
histograms too, which the shards send in full: ``X-Tidewell-Histograms: exact``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tidewell.api.prometheus.histogram_json import histogram_from_exact
from tidewell.frontend.astmapper import EMBEDDED_LABEL
from tidewell.frontend.merge import to_ms
from tidewell.model import Histogram, HistogramSamples, Labels, Matcher, Series, stale_nan
from tidewell.model.errors import TidewellError

__all__ = ["EmbeddedQueryable", "HistogramsInShardsError", "series_of"]

_STALE = stale_nan()


class HistogramsInShardsError(TidewellError):
    """A per-shard answer holds a series with floats and native histograms both (whose
    staleness per kind would not tell which is newer), or histograms without their exact
    form: the query runs unsharded instead."""


def _series(labels: Labels, points: list[list[Any]], step: int) -> Series:
    # Columns at once: one conversion per column, not a Python call per point.
    times, values = zip(*points, strict=True) if points else ((), ())
    ts = np.rint(np.array(times, dtype=np.float64) * 1000).astype(np.int64)
    vals = np.array(values, dtype=np.float64)
    if step > 0 and len(ts):
        gaps = np.flatnonzero(np.diff(ts) > step)
        at = np.append(gaps + 1, len(ts))
        ts = np.insert(ts, at, ts[at - 1] + step)
        vals = np.insert(vals, at, _STALE)
    return Series(labels, ts, vals)


def _histogram_series(labels: Labels, points: list[list[Any]], step: int) -> Series:
    if any("exact" not in p[1] for p in points):
        raise HistogramsInShardsError("native histograms without their exact form")
    ts = [to_ms(p[0]) for p in points]
    hists = [histogram_from_exact(p[1]["exact"]) for p in points]
    if step > 0:
        out_t, out_h = [], []
        for k, (t, h) in enumerate(zip(ts, hists, strict=True)):
            out_t.append(t)
            out_h.append(h)
            if k + 1 == len(ts) or ts[k + 1] > t + step:
                out_t.append(t + step)
                out_h.append(Histogram(sum=_STALE))
        ts, hists = out_t, out_h
    return Series(labels, np.zeros(0, dtype=np.int64), np.zeros(0),
                  histograms=HistogramSamples(np.array(ts, dtype=np.int64), hists))


def series_of(doc: dict[str, Any], step: int) -> list[Series]:
    """The series of one successful query answer (``step`` in ms, 0 for instant queries)."""
    data = doc["data"]
    kind, result = data["resultType"], data["result"]
    if kind == "scalar":
        return [_series(Labels(), [result], step)]
    out = []
    for s in result:
        labels = Labels(s["metric"].items())
        points = ([s["value"]] if "value" in s else []) if kind == "vector" \
            else s.get("values", [])
        hpoints = ([s["histogram"]] if "histogram" in s else []) if kind == "vector" \
            else s.get("histograms", [])
        if points and hpoints:
            raise HistogramsInShardsError("a series with floats and native histograms")
        if hpoints:
            out.append(_histogram_series(labels, hpoints, step))
        elif points:
            out.append(_series(labels, points, step))
    return out


class EmbeddedQueryable:
    """``Queryable`` and ``Querier`` answering embedded selectors from ``answers``
    (keyed by the selector's ``__queries__`` value); nothing else is readable."""

    def __init__(self, answers: dict[str, list[Series]]) -> None:
        self.answers = answers

    def querier(self, tenant: str, mint: int, maxt: int) -> EmbeddedQueryable:
        return self

    def select(self, matchers: Sequence[Matcher], hints: object = None) -> list[Series]:
        for m in matchers:
            if m.name == EMBEDDED_LABEL:
                return self.answers[m.value]
        raise TidewellError("the query-frontend reads embedded queries only")

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        raise TidewellError("the query-frontend reads embedded queries only")

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        raise TidewellError("the query-frontend reads embedded queries only")
