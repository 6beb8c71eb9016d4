"""Query sharding in the query-frontend (Mimir's ``querySharding`` middleware).

With ``-query-frontend.parallelize-shardable-queries`` on and a tenant's
``query_sharding_total_shards`` above 1, a query is rewritten by
:mod:`tidewell.frontend.astmapper`; its per-shard queries go through the rest of
the chain (the queue, then the queriers) all at once, and the frontend's own
PromQL engine evaluates the rewritten expression over their answers. Queries
that cannot be sharded, fail to rewrite, or whose shards answer with series mixing
floats and native histograms run unchanged. Shards answer native histograms in full
(``X-Tidewell-Histograms: exact``), not only as bucket bounds.

Shards per query: the tenant's total, lowered so that all the shardable legs of
all split parts together stay within ``query_sharding_max_sharded_queries``
(``shards = min(total, max_sharded // parts // legs)``), as Mimir computes it.
Queries asking for ``stats`` are not sharded: the statistics are the querier's. A
``limit`` applies to the merged answer, not to each shard's.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tidewell.api.prometheus.routes import render_result
from tidewell.api.prometheus.workers import QueryWorkers
from tidewell.frontend import metrics
from tidewell.frontend.astmapper import (
    EMBEDDED_LABEL,
    EMBEDDED_METRIC,
    decode_embedded,
    names_matter_late,
    shard_expr,
)
from tidewell.frontend.embedded import EmbeddedQueryable, HistogramsInShardsError, series_of
from tidewell.frontend.request import RANGE, Handler, QueryRequest, QueryResponse, error_response
from tidewell.model import MatchType, Series
from tidewell.promql import nodes as ast
from tidewell.promql.engine import Engine, EngineOptions
from tidewell.promql.errors import PromQLError
from tidewell.promql.parser import parse

__all__ = ["QueryShardingMiddleware", "ShardingLimits"]

log = logging.getLogger("tidewell.frontend.sharding")

_POSITION = re.compile(r"\s+\(\d+:\d+\)$")
PLAN_CACHE_SIZE = 1024


@dataclass(frozen=True)
class ShardingLimits:
    """Per-tenant getters: ``total_shards`` (``query_sharding_total_shards``),
    ``max_sharded_queries`` (``query_sharding_max_sharded_queries``),
    ``delayed_name_removal`` (``enable_delayed_name_removal``) and
    ``max_regexp_size_bytes`` (``query_sharding_max_regexp_size_bytes``)."""

    total_shards: Callable[[str], int]
    max_sharded_queries: Callable[[str], int]
    delayed_name_removal: Callable[[str], bool]
    max_regexp_size_bytes: Callable[[str], int] = lambda _tenant: 0


@dataclass(frozen=True)
class _Plan:
    query: str
    shards: int
    sharded_queries: int
    embedded: tuple[str, ...]


def _embedded_values(expr: ast.Expr) -> list[str]:
    return [m.value for n, _ in ast.walk(expr)
            if isinstance(n, ast.VectorSelector) and n.name == EMBEDDED_METRIC
            for m in n.matchers if m.name == EMBEDDED_LABEL]


def _strip_positions(items: list[str]) -> list[str]:
    """Positions refer to the rewritten query, which the user never sees (as Mimir)."""
    return list(dict.fromkeys(_POSITION.sub("", s) for s in items))


def _longest_regexp(expr: ast.Expr) -> int:
    return max((len(m.value.encode()) for n, _ in ast.walk(expr)
                if isinstance(n, ast.VectorSelector) for m in n.matchers
                if m.type in (MatchType.REGEX, MatchType.NOT_REGEX)), default=0)


@functools.lru_cache(maxsize=PLAN_CACHE_SIZE)
def plan(query: str, total_shards: int, max_sharded: int, total_queries: int,
         delayed_name_removal: bool, max_regexp_bytes: int = 0) -> _Plan | None:
    """How ``query`` runs sharded, or None when it is not shardable (or does not parse).

    A regular expression longer than ``max_regexp_bytes`` (0: no limit) keeps the query
    whole: every shard would run it again. Plans are kept (``PLAN_CACHE_SIZE``): a
    dashboard sends the same text every refresh, and mapping it costs milliseconds per
    query at 16 shards (parse, map, print, parse again)."""
    try:
        expr = parse(query)
        if delayed_name_removal and names_matter_late(expr):
            return None
        if 0 < max_regexp_bytes < _longest_regexp(expr):
            return None
        shards = total_shards
        if max_sharded > 0:
            legs = shard_expr(expr, 1).sharded_queries or 1
            shards = max(1, min(shards, max_sharded // max(1, total_queries) // legs))
        if shards <= 1:
            return None
        sharded = shard_expr(expr, shards)
        if not sharded.sharded_queries:
            return None
        rewritten = str(sharded)
        # The same leg may appear twice (avg(x) + sum(x)): its queries run once.
        return _Plan(rewritten, shards, sharded.sharded_queries,
                     tuple(dict.fromkeys(_embedded_values(parse(rewritten)))))
    except (PromQLError, RecursionError):
        return None  # the querier phrases the error, or runs what is too deep to map


class _Sharding:
    def __init__(self, next: Handler, limits: ShardingLimits, workers: QueryWorkers,
                 timeout: float, parallelism: int) -> None:
        self.next = next
        self.limits = limits
        self.workers = workers
        self.timeout = timeout
        self.parallelism = parallelism

    async def do(self, request: QueryRequest) -> QueryResponse:
        total = self.limits.total_shards(request.tenant)
        limit = request.param("limit") or "0"
        if total <= 1 or request.param("stats") is not None or not limit.isdigit():
            return await self.next.do(request)  # a bad limit: the querier phrases the error
        metrics.SHARDING_ATTEMPTS.inc()
        delayed = self.limits.delayed_name_removal(request.tenant)
        p = await self.workers.run(lambda: plan(
            request.query, total, self.limits.max_sharded_queries(request.tenant),
            request.total_queries, delayed, self.limits.max_regexp_size_bytes(request.tenant)))
        if p is None:
            return await self.next.do(request)
        log.debug("query %r runs as %d sharded queries", request.query, p.sharded_queries)
        try:
            return await self._run(request, p, delayed, int(limit))
        except HistogramsInShardsError:
            log.debug("native histograms in the shards of %r: running it unsharded",
                      request.query)
            return await self.next.do(request)

    async def _run(self, request: QueryRequest, p: _Plan, delayed: bool,
                   limit: int) -> QueryResponse:
        metrics.SHARDING_SUCCESSES.inc()
        metrics.SHARDED_QUERIES.inc(p.sharded_queries)
        metrics.SHARDED_QUERIES_PER_QUERY.observe(p.sharded_queries)
        jobs = [(key, q) for key in p.embedded for q in decode_embedded(key)]
        # The limit is on the whole answer; histograms must come back as themselves.
        shard_request = request.without_params("limit").with_header("x-tidewell-histograms",
                                                                     "exact")
        # -querier.max-query-parallelism bounds the split parts and shards of one query in
        # flight together (the split middleware runs up to that many parts at once).
        sem = asyncio.Semaphore(max(1, self.parallelism // min(request.total_queries,
                                                               self.parallelism)))

        async def run(q: str) -> QueryResponse:
            async with sem:
                return await self.next.do(shard_request.with_query(q))

        responses = await asyncio.gather(*(run(q) for _, q in jobs))
        for r in responses:
            if not r.ok:
                return r
        step = request.step if request.kind == RANGE else 0
        answers: dict[str, list[Series]] = {key: [] for key in p.embedded}
        warnings: list[str] = []
        infos: list[str] = []
        for (key, _), r in zip(jobs, responses, strict=True):
            doc = r.json()
            answers[key].extend(series_of(doc, step))
            warnings += doc.get("warnings") or []
            infos += doc.get("infos") or []
        for got in answers.values():  # sorted by labels, as every select answers
            got.sort(key=lambda s: s.labels)
        engine = Engine(EngineOptions(timeout_s=self.timeout, delayed_name_removal=delayed))
        queryable = EmbeddedQueryable(answers)

        cancel = threading.Event()  # set when the caller goes away or times out

        def evaluate() -> Any:
            if request.kind == RANGE:
                return engine.range_query(queryable, request.tenant, p.query, request.start,
                                          request.end, request.step, cancel=cancel)
            return engine.instant_query(queryable, request.tenant, p.query, request.start,
                                        cancel=cancel)

        try:
            res = await self.workers.run(evaluate)
        except PromQLError as e:
            return error_response(e.status, e.error_type, str(e))
        finally:
            cancel.set()
        data = render_result(res, request.header("x-tidewell-histograms") == "exact")
        if isinstance(data["result"], list) and data["resultType"] in ("vector", "matrix") \
                and 0 < limit < len(data["result"]):
            data["result"] = data["result"][:limit]
            warnings.append("results truncated due to limit")
        body: dict[str, Any] = {"status": "success", "data": data}
        warnings = _strip_positions(res.warnings + warnings)
        infos = _strip_positions(res.infos + infos)
        if warnings:
            body["warnings"] = warnings
        if infos:
            body["infos"] = infos
        return QueryResponse.from_json(body, 200, {"content-type": "application/json"})


class QueryShardingMiddleware:
    """Shard queries per the tenant's ``limits``; the frontend's engine runs on ``workers``
    threads (off the event loop) with a ``timeout`` in seconds; at most ``parallelism``
    shard queries of one query (all its split parts together) are in flight."""

    def __init__(self, limits: ShardingLimits, workers: int, timeout: float,
                 parallelism: int) -> None:
        self.limits = limits
        self.workers = QueryWorkers(max(1, workers))
        self.timeout = timeout or 120.0
        self.parallelism = max(1, parallelism)

    def wrap(self, next: Handler) -> Handler:
        return _Sharding(next, self.limits, self.workers, self.timeout, self.parallelism)
