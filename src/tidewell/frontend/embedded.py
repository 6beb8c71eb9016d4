"""The answers of embedded queries as storage for the frontend's engine (Mimir's
``shardedQueryable``).

Each embedded selector's queries were run on the queriers; their JSON answers
become ``Series`` here. A query's answer has had its staleness markers removed by
the querier's engine, so a gap in it would let the frontend's engine look back
over it: as Mimir does, a staleness marker is put one step after every point that
the next does not follow within a step, and one after the last point.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tidewell.frontend.astmapper import EMBEDDED_LABEL
from tidewell.frontend.merge import to_ms
from tidewell.model import Labels, Matcher, Series, stale_nan
from tidewell.model.errors import TidewellError

__all__ = ["EmbeddedQueryable", "HistogramsInShardsError", "series_of"]

_STALE = stale_nan()


class HistogramsInShardsError(TidewellError):
    """A per-shard answer holds native histograms, which the JSON API gives only as
    buckets with bounds: the query runs unsharded instead."""


def _series(labels: Labels, points: list[list[Any]], step: int) -> Series:
    ts = np.array([to_ms(p[0]) for p in points], dtype=np.int64)
    vals = np.array([p[1] for p in points], dtype=np.float64)
    if step > 0 and len(ts):
        gaps = np.flatnonzero(np.diff(ts) > step)
        at = np.append(gaps + 1, len(ts))
        ts = np.insert(ts, at, ts[at - 1] + step)
        vals = np.insert(vals, at, _STALE)
    return Series(labels, ts, vals)


def series_of(doc: dict[str, Any], step: int) -> list[Series]:
    """The series of one successful query answer (``step`` in ms, 0 for instant queries)."""
    data = doc["data"]
    kind, result = data["resultType"], data["result"]
    if kind == "scalar":
        return [_series(Labels(), [result], step)]
    out = []
    for s in result:
        if "histogram" in s or "histograms" in s:
            raise HistogramsInShardsError("native histograms in a per-shard answer")
        points = [s["value"]] if kind == "vector" else s.get("values", [])
        if points:
            out.append(_series(Labels(s["metric"].items()), points, step))
    return out


class EmbeddedQueryable:
    """``Queryable`` and ``Querier`` answering embedded selectors from ``answers``
    (keyed by the selector's ``__queries__`` value); nothing else is readable."""

    def __init__(self, answers: dict[str, list[Series]]) -> None:
        self.answers = answers

    def querier(self, tenant: str, mint: int, maxt: int) -> EmbeddedQueryable:
        return self

    def select(self, matchers: Sequence[Matcher]) -> list[Series]:
        for m in matchers:
            if m.name == EMBEDDED_LABEL:
                return self.answers[m.value]
        raise TidewellError("the query-frontend reads embedded queries only")

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        raise TidewellError("the query-frontend reads embedded queries only")

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        raise TidewellError("the query-frontend reads embedded queries only")
