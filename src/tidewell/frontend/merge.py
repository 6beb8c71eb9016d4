"""Merging and trimming Prometheus matrix responses.

Split parts and cached extents come back as separate matrices; the user must
get one, identical to what an unsplit query returns: each series once (keyed by
its full label set), its points in time order without duplicates (parts and
extents may overlap by a step), series sorted by labels as Prometheus sorts a
matrix, and warnings/infos of every part, each once.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from typing import Any

from tidewell.frontend.request import QueryResponse

__all__ = ["extract", "merge_responses", "merge_stats", "series_key", "to_ms"]

_POINT_KEYS = ("values", "histograms")

SeriesKey = tuple[tuple[str, str], ...]


def series_key(metric: dict[str, str]) -> SeriesKey:
    return tuple(sorted(metric.items()))


def to_ms(ts: float | int) -> int:
    return ts * 1000 if isinstance(ts, int) else round(ts * 1000)


def _ms_key(p: list[Any]) -> int:
    return to_ms(p[0])


def _merge_points(chunks: list[list[list[Any]]]) -> list[list[Any]]:
    """Concatenate time-sorted point lists; where one starts before the previous ends
    (split parts and extents overlap by a step or so), the earlier list's points win."""
    if len(chunks) == 1:
        return chunks[0]
    chunks = sorted(chunks, key=lambda c: to_ms(c[0][0]))  # stable: ties keep input order
    out = list(chunks[0])
    last = to_ms(out[-1][0])
    for c in chunks[1:]:
        if to_ms(c[0][0]) <= last:
            c = c[bisect.bisect_right(c, last, key=_ms_key):]
            if not c:
                continue
        out.extend(c)
        last = to_ms(c[-1][0])
    return out


def _union(lists: Iterable[Sequence[str] | None]) -> list[str]:
    seen: dict[str, None] = {}
    for items in lists:
        for s in items or ():
            seen.setdefault(s, None)
    return list(seen)


def merge_responses(responses: Sequence[QueryResponse]) -> QueryResponse:
    """One matrix response from several successful ones (the caller checks ``ok``)."""
    if len(responses) == 1:
        return responses[0]
    docs = [r.json() for r in responses]
    series: dict[SeriesKey, dict[str, Any]] = {}
    points: dict[SeriesKey, dict[str, list[list[list[Any]]]]] = {}
    for doc in docs:
        for s in doc["data"]["result"]:
            key = series_key(s["metric"])
            if key not in series:
                series[key] = {"metric": s["metric"]}
                points[key] = {}
            for pk in _POINT_KEYS:
                if s.get(pk):
                    points[key].setdefault(pk, []).append(s[pk])
    result = []
    for key in sorted(series):
        out = series[key]
        for pk in _POINT_KEYS:
            if pk in points[key]:
                out[pk] = _merge_points(points[key][pk])
        if len(out) > 1:
            result.append(out)
    body: dict[str, Any] = {"status": "success",
                            "data": {"resultType": "matrix", "result": result}}
    stats = [d["data"]["stats"] for d in docs if "stats" in d["data"]]
    if stats:
        body["data"]["stats"] = merge_stats(stats)
    warnings = _union(d.get("warnings") for d in docs)
    infos = _union(d.get("infos") for d in docs)
    if warnings:
        body["warnings"] = warnings
    if infos:
        body["infos"] = infos
    return QueryResponse.from_json(body, 200, {"content-type": "application/json"})


def merge_stats(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Prometheus's ``data.stats`` of split parts as one: times and samples add up, per-step
    counts are concatenated in time order, the peak is the largest part's."""
    timings: dict[str, float] = {}
    for p in parts:
        for k, v in p.get("timings", {}).items():
            timings[k] = timings.get(k, 0.0) + v
    out: dict[str, Any] = {"timings": timings}
    samples = [p["samples"] for p in parts if "samples" in p]
    if samples:
        merged: dict[str, Any] = {}
        steps = [s["totalQueryableSamplesPerStep"] for s in samples
                 if "totalQueryableSamplesPerStep" in s]
        if steps:
            merged["totalQueryableSamplesPerStep"] = _merge_points(
                [s for s in steps if s] or [[]])
        merged["totalQueryableSamples"] = sum(s.get("totalQueryableSamples", 0) for s in samples)
        merged["peakSamples"] = max(s.get("peakSamples", 0) for s in samples)
        out["samples"] = merged
    return out


def _trim(points: list[list[Any]], start: int, end: int) -> list[list[Any]]:
    if not points or (to_ms(points[0][0]) >= start and to_ms(points[-1][0]) <= end):
        return points
    lo = bisect.bisect_left(points, start, key=_ms_key)
    hi = bisect.bisect_right(points, end, lo=lo, key=_ms_key)
    return points[lo:hi]


def extract(response: QueryResponse, start: int, end: int) -> QueryResponse:
    """The part of a matrix response with ``start <= t <= end`` (ms); empty series dropped."""
    doc = response.json()
    result = []
    for s in doc["data"]["result"]:
        out: dict[str, Any] = {"metric": s["metric"]}
        for pk in _POINT_KEYS:
            if pk in s:
                kept = _trim(s[pk], start, end)
                if kept:
                    out[pk] = kept
        if len(out) > 1:
            result.append(out)
    body = {**doc, "data": {"resultType": "matrix", "result": result}}
    return QueryResponse.from_json(body, 200, {"content-type": "application/json"})
