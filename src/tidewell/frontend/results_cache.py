"""Results cache: serve range queries from cached *extents*, ask downstream only for gaps.

An entry is keyed by tenant, query, step and the split-interval window the
request starts in (Mimir's ``tenant:query:step:window``, hashed to fit any
backend), and holds extents — ``[start, end]`` with the matrix computed for
them. A request takes what the extents cover, fetches the gaps, and the new
extents are merged into the entry when they touch within a step. Only points
older than ``max_cache_freshness`` are ever stored (recent data may still
change), only step-aligned requests are cached (others would never line up),
and ``Cache-Control: no-store`` on the request bypasses the cache, on the
response keeps it out.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from tidewell.frontend import metrics
from tidewell.frontend.cache import Cache
from tidewell.frontend.merge import extract, merge_responses
from tidewell.frontend.offloop import off_loop
from tidewell.frontend.request import RANGE, Handler, QueryRequest, QueryResponse
from tidewell.util.priority import WRITES

__all__ = ["Extent", "ResultsCacheMiddleware", "cache_key", "partition"]

log = logging.getLogger("tidewell.frontend.results_cache")

_DEFAULT_WINDOW_MS = 86_400_000
MIN_CACHE_EXTENT_MS = 300_000
"""Extents shorter than this are ignored by longer requests (Mimir's ``minCacheExtent``)."""


@dataclass(slots=True)
class Extent:
    start: int
    end: int
    response: QueryResponse

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "response": self.response.json()}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Extent:
        return cls(doc["start"], doc["end"], QueryResponse.from_json(doc["response"]))


def cache_key(req: QueryRequest, window_ms: int) -> str:
    """Mimir's results-cache key: tenant, query, step and the window the request starts in."""
    return f"{req.tenant}:{req.query}:{req.step}:{req.start // window_ms}"


def _hashed(key: str) -> str:
    return "fe:" + hashlib.sha256(key.encode()).hexdigest()


def partition(req: QueryRequest, extents: list[Extent]
              ) -> tuple[list[QueryRequest], list[QueryResponse]]:
    """Split ``req`` into requests for what ``extents`` miss and responses for what they hold."""
    requests: list[QueryRequest] = []
    cached: list[QueryResponse] = []
    start = req.start
    long_request = req.end - req.start > MIN_CACHE_EXTENT_MS
    for ext in extents:
        if ext.end < start or ext.start > req.end:
            continue
        if long_request and ext.end - ext.start < MIN_CACHE_EXTENT_MS:
            continue  # fewer, larger downstream queries beat stitching in slivers
        if start < ext.start:
            requests.append(req.with_start_end(start, ext.start))
        cached.append(extract(ext.response, start, req.end))
        start = max(start, ext.end)
    if start < req.end:
        requests.append(req.with_start_end(start, req.end))
    if req.start == req.end and not cached:
        requests.append(req)
    return requests, cached


def merge_extents(extents: list[Extent], step: int) -> list[Extent]:
    """Sorted, with extents that overlap or lie within a step of each other joined."""
    out: list[Extent] = []
    for ext in sorted(extents, key=lambda e: (e.start, e.end)):
        if out and ext.start <= out[-1].end + step:
            last = out[-1]
            if ext.end > last.end:
                out[-1] = Extent(last.start, ext.end, merge_responses([last.response,
                                                                       ext.response]))
        else:
            out.append(ext)
    return out


def _is_matrix(resp: QueryResponse) -> bool:
    return resp.ok and resp.json().get("data", {}).get("resultType") == "matrix"


class _ResultsCache:
    def __init__(self, next: Handler, mw: ResultsCacheMiddleware) -> None:
        self.next = next
        self.mw = mw

    def _cacheable(self, req: QueryRequest, max_cache_time: int) -> bool:
        if req.kind != RANGE or req.step <= 0 or "@" in req.query:
            return False
        if "no-store" in (req.header("cache-control") or ""):
            return False
        if req.param("stats") is not None or req.param("limit") is not None:
            return False  # this run's statistics; a limit the cache key does not hold
        if not self.mw.cache_unaligned and (req.start % req.step or req.end % req.step):
            return False
        return req.start <= max_cache_time

    async def do(self, request: QueryRequest) -> QueryResponse:
        now_ms = int(self.mw.now() * 1000)
        max_cache_time = now_ms - self.mw.max_freshness_ms
        if not self._cacheable(request, max_cache_time):
            return await self.next.do(request)
        metrics.CACHE_REQUESTS.labels(RANGE).inc()
        key = cache_key(request, self.mw.window_ms)
        hashed = _hashed(key)
        raw = await self.mw.cache.get(hashed)
        # Decoding, trimming, merging and encoding run on a frontend thread (offloop.py):
        # only the cache's and the downstream's I/O stay on the event loop.
        extents, requests, responses = await off_loop(lambda: _plan(key, raw, request))
        if not requests:
            metrics.CACHE_HITS.labels(RANGE).inc()
        fetched: list[tuple[QueryRequest, QueryResponse]] = []
        for sub in requests:
            resp = await self.next.do(sub)
            fetched.append((sub, resp))
            if not 200 <= resp.status_code < 300:
                break  # a failed gap: the rest is not worth asking for
        out, store = await off_loop(lambda: self._finish(
            request, key, extents, responses, fetched, max_cache_time))
        if store is not None:
            await self.mw.cache.set(hashed, store, self.mw.ttl)
        return out

    def _finish(self, request: QueryRequest, key: str, extents: list[Extent],
                responses: list[QueryResponse], fetched: list[tuple[QueryRequest, QueryResponse]],
                max_cache_time: int) -> tuple[QueryResponse, bytes | None]:
        """The answer from cached and fetched parts, and the entry to store (if any changed)."""
        fresh: list[Extent] = []
        for sub, resp in fetched:
            if not resp.ok:
                return resp, None
            responses.append(resp)
            if _is_matrix(resp) and "no-store" not in resp.headers.get("cache-control", ""):
                ext = self._storable(sub, resp, max_cache_time)
                if ext is not None:
                    fresh.append(ext)
        store = None
        if fresh:
            merged = merge_extents(extents + fresh, request.step)
            WRITES.checkpoint()
            store = orjson.dumps({"key": key, "extents": [e.to_json() for e in merged]})
        WRITES.checkpoint()
        if len(responses) == 1 and not extents:
            out = responses[0]
        else:
            out = extract(merge_responses(responses), request.start, request.end)
        if request.total_queries == 1:  # the final answer: encode it here, not on the loop
            WRITES.checkpoint()
            out.body  # noqa: B018 (encodes and keeps the bytes)
        return out, store

    @staticmethod
    def _storable(sub: QueryRequest, resp: QueryResponse, max_cache_time: int) -> Extent | None:
        """The part of a fetched response old enough to cache, as an extent on its step grid."""
        if sub.end <= max_cache_time:
            return Extent(sub.start, sub.end, resp)
        end = sub.start + (max_cache_time - sub.start) // sub.step * sub.step
        if end < sub.start:
            return None
        return Extent(sub.start, end, extract(resp, sub.start, end))


def _decode(key: str, raw: bytes | None) -> list[Extent]:
    if raw is None:
        return []
    try:
        doc = orjson.loads(raw)
        if doc.get("key") != key:  # a hash collision: not ours
            return []
        return [Extent.from_json(e) for e in doc["extents"]]
    except (orjson.JSONDecodeError, KeyError, TypeError) as e:
        log.warning("dropping unreadable results cache entry: %r", e)
        return []


def _plan(key: str, raw: bytes | None, req: QueryRequest
          ) -> tuple[list[Extent], list[QueryRequest], list[QueryResponse]]:
    """The stored extents, the requests for what they miss and the responses they hold."""
    extents = _decode(key, raw)
    return extents, *partition(req, extents)


class ResultsCacheMiddleware:
    """Results caching over ``cache``; ``window`` is the split interval (24h if not splitting)."""

    def __init__(self, cache: Cache, *, window: float, max_freshness: float, ttl: float = 0.0,
                 cache_unaligned: bool = False, now: Callable[[], float] = time.time) -> None:
        self.cache = cache
        self.window_ms = round(window * 1000) or _DEFAULT_WINDOW_MS
        self.max_freshness_ms = round(max_freshness * 1000)
        self.ttl = ttl
        self.cache_unaligned = cache_unaligned
        self.now = now

    def wrap(self, next: Handler) -> Handler:
        return _ResultsCache(next, self)
