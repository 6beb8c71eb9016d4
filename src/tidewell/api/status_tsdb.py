"""Prometheus's ``/api/v1/status/tsdb`` for one tenant, over the ingesters' heads.

Shape, ``limit`` rules (default 10, 1..10000) and error texts are Prometheus 3's.
``memoryInBytesByLabelName`` is what Prometheus 3 (``stringlabels``) reports: per
series, each name and value with its length prefix; ties are broken by name so the
answer is stable.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from typing import Any

import anyio
import anyio.to_thread
import numpy as np
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tidewell.api.cardinality import form_params
from tidewell.distributor.limits import Limits
from tidewell.ingester.cardinality import INMEMORY, LabelStats, ResultTooLargeError
from tidewell.querier.cardinality import CardinalitySource

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "status_tsdb_routes", "tsdb_status"]

DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000


def _uvarint_len(n: int) -> int:
    return max(1, (n.bit_length() + 6) // 7)


def _string_size(s: str) -> int:
    b = len(s.encode("utf-8"))
    return _uvarint_len(b) + b


def _top_values(values: dict[str, int], limit: int) -> list[tuple[str, int]]:
    """The ``limit`` values with most series (ties: smallest value first), found with
    array operations: only those at the threshold count are compared as strings."""
    if len(values) <= limit:
        return list(values.items())
    counts = np.fromiter(values.values(), dtype=np.int64, count=len(values))
    threshold = np.partition(counts, len(counts) - limit)[len(counts) - limit]
    keys = list(values)
    above = [(keys[i], int(counts[i])) for i in np.flatnonzero(counts > threshold).tolist()]
    tied = (keys[i] for i in np.flatnonzero(counts == threshold).tolist())
    return above + [(v, int(threshold)) for v in heapq.nsmallest(limit - len(above), tied)]


def _memory(name: str, values: dict[str, int]) -> int:
    """Bytes of ``name`` and each value, length-prefixed, times the value's series: the
    values' UTF-8 lengths found at once from their NUL-joined encoding."""
    encoded = np.frombuffer("\x00".join(values).encode("utf-8"), dtype=np.uint8)
    cuts = np.flatnonzero(encoded == 0)
    if cuts.shape[0] != len(values) - 1:  # a value holds a NUL: one at a time
        return sum((_string_size(name) + _string_size(v)) * c for v, c in values.items())
    lens = np.diff(np.concatenate(([-1], cuts, [encoded.shape[0]]))) - 1
    prefix = 1 + (lens >= 1 << 7) + (lens >= 1 << 14) + (lens >= 1 << 21) + (lens >= 1 << 28)
    counts = np.fromiter(values.values(), dtype=np.int64, count=len(values))
    return int(((_string_size(name) + lens + prefix) * counts).sum())


def _top(items: Iterable[tuple[str, int]], limit: int) -> list[dict[str, Any]]:
    ranked = heapq.nsmallest(limit, items, key=lambda x: (-x[1], x[0]))
    return [{"name": name, "value": value} for name, value in ranked]


def tsdb_status(stats: LabelStats, limit: int) -> dict[str, Any]:
    """The ``data`` of ``/api/v1/status/tsdb`` from merged label statistics."""
    pairs = stats.pairs
    memory = {name: _memory(name, values) for name, values in pairs.items()}
    top_pairs = _top(((f"{n}\x00{v}", c) for n, values in pairs.items()
                      for v, c in _top_values(values, limit)), limit)
    for item in top_pairs:  # "=" sorts after "\x00": ties ordered by name, then value
        item["name"] = item["name"].replace("\x00", "=", 1)
    h = stats.head
    return {
        "headStats": {"numSeries": h.num_series,
                      "numLabelPairs": sum(len(v) for v in pairs.values()),
                      "chunkCount": h.chunk_count, "minTime": h.min_time,
                      "maxTime": h.max_time},
        "seriesCountByMetricName": _top(pairs.get("__name__", {}).items(), limit),
        "labelValueCountByLabelName": _top(((n, len(v)) for n, v in pairs.items()), limit),
        "memoryInBytesByLabelName": _top(memory.items(), limit),
        "seriesCountByLabelValuePair": top_pairs,
    }


def _error(message: str, status: int = 400, etype: str = "bad_data") -> Response:
    body = {"status": "error", "errorType": etype, "error": message}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def status_tsdb_routes(source: CardinalitySource, limits: Callable[[str], Limits], *,
                       limiter: anyio.CapacityLimiter | None = None) -> list[BaseRoute]:
    """``/api/v1/status/tsdb``, to be mounted under ``/prometheus`` (tenant-scoped).

    The statistics are exact, so the ingesters answer every label pair: that answer is
    bounded by the tenant's ``label_names_and_values_results_max_size_bytes`` (422 past
    it), and at most ``limiter``'s total are computed at once.
    """
    slots = limiter or anyio.CapacityLimiter(2)

    async def status(request: Request) -> Response:
        p = await form_params(request)
        limit = DEFAULT_LIMIT
        if p.get("limit"):
            try:
                limit = int(p["limit"][0])
            except ValueError:
                limit = 0
            if limit <= 0:
                return _error("limit must be a positive number")
            if limit > MAX_LIMIT:
                return _error(f"limit must not exceed {MAX_LIMIT}")
        tenant = getattr(request.state, "tenant", None) or "anonymous"
        max_bytes = limits(tenant).label_names_and_values_results_max_size_bytes
        try:
            stats = await anyio.to_thread.run_sync(
                lambda: source.label_stats(tenant, [], count_method=INMEMORY,
                                           max_bytes=max_bytes), limiter=slots)
        except ResultTooLargeError as exc:
            return _error(f"{exc} (-querier.label-names-and-values-results-max-size-bytes)",
                          422, "execution")
        except Exception as exc:
            return _error(str(exc), 500, "internal")
        return Response(orjson.dumps({"status": "success", "data": tsdb_status(stats, limit)}),
                        media_type="application/json")

    return [Route("/api/v1/status/tsdb", status, methods=["GET"])]
