"""Assembling the query-frontend: middlewares, queue, cache and downstream, in Mimir's order.

``step-align → split by interval → results cache → query sharding → per-tenant queue →
downstream``: splitting comes before the cache so each part is cached under its own
window; sharding after it, so a cached part costs no shard; the queue sits last so
what it schedules are the parts and their shards, as in Mimir.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from starlette.routing import Route
from starlette.types import ASGIApp

from tidewell.frontend.cache import Cache, InMemoryCache
from tidewell.frontend.config import FrontendConfig
from tidewell.frontend.downstream import HTTPDownstream, asgi_downstream, http_downstream
from tidewell.frontend.limits import MaxTotalQueryLengthMiddleware
from tidewell.frontend.memcached import MemcachedCache
from tidewell.frontend.queue import FairQueue
from tidewell.frontend.request import Handler, Middleware, QueryRequest, QueryResponse
from tidewell.frontend.results_cache import ResultsCacheMiddleware
from tidewell.frontend.routes import frontend_routes
from tidewell.frontend.sharding import QueryShardingMiddleware, ShardingLimits
from tidewell.frontend.split import SplitByIntervalMiddleware
from tidewell.frontend.step_align import StepAlignMiddleware

__all__ = ["QueryFrontend", "compose", "new_results_cache"]


def compose(middlewares: Sequence[Middleware], handler: Handler) -> Handler:
    """The first middleware ends up outermost."""
    for mw in reversed(middlewares):
        handler = mw.wrap(handler)
    return handler


def new_results_cache(config: FrontendConfig) -> Cache | None:
    """The configured results-cache backend, or ``None`` when caching is off."""
    rc = config.results_cache
    if not config.cache_results or rc.backend == "":
        return None
    if rc.backend == "memcached":
        m = rc.memcached
        return MemcachedCache(m.addresses, timeout=m.timeout,
                              max_idle_connections=m.max_idle_connections,
                              max_item_size=m.max_item_size)
    return InMemoryCache(rc.inmemory_max_size_bytes)


class QueryFrontend:
    """The whole frontend as one :class:`Handler`, with its routes and a ``close``."""

    def __init__(self, config: FrontendConfig, downstream: HTTPDownstream, *,
                 cache: Cache | None = None, now: Callable[[], float] = time.time,
                 max_total_query_length: Callable[[str], float] | None = None,
                 sharding: ShardingLimits | None = None) -> None:
        """``max_total_query_length`` gives a tenant's ``-query-frontend.max-total-query-length``
        in seconds (per-tenant overrides; 0 or absent: no limit); ``sharding`` the tenant's
        query-sharding limits (used with ``-query-frontend.parallelize-shardable-queries``)."""
        self.config = config
        self.downstream = downstream
        self.cache = cache
        self.queue = FairQueue(downstream,
                               max_outstanding_per_tenant=config.max_outstanding_requests_per_tenant,
                               workers=config.querier_concurrency)
        mws: list[Middleware] = []
        if max_total_query_length is not None:
            total = max_total_query_length
            mws.append(MaxTotalQueryLengthMiddleware(lambda t: round(total(t) * 1000)))
        if config.align_queries_with_step:
            mws.append(StepAlignMiddleware())
        mws.append(SplitByIntervalMiddleware(config.split_queries_by_interval,
                                             config.max_query_parallelism))
        if cache is not None:
            mws.append(ResultsCacheMiddleware(
                cache, window=config.split_queries_by_interval,
                max_freshness=config.max_cache_freshness, ttl=config.results_cache.ttl,
                cache_unaligned=config.cache_unaligned_requests, now=now))
        if config.parallelize_shardable_queries and sharding is not None:
            mws.append(QueryShardingMiddleware(sharding, config.querier_concurrency,
                                               config.query_timeout,
                                               config.max_query_parallelism))
        self.handler = compose(mws, self.queue)

    @classmethod
    def from_config(cls, config: FrontendConfig, *, app: ASGIApp | None = None,
                    max_total_query_length: Callable[[str], float] | None = None,
                    sharding: ShardingLimits | None = None) -> QueryFrontend:
        """Downstream over HTTP when ``downstream_url`` is set, else the in-process ``app``."""
        if config.downstream_url:
            ds = http_downstream(config.downstream_url, timeout=config.query_timeout or 120.0,
                                 max_retries=config.max_retries_per_request)
        elif app is not None:
            ds = asgi_downstream(app)
        else:
            raise ValueError("query-frontend needs -query-frontend.downstream-url or an "
                             "in-process query API")
        return cls(config, ds, cache=new_results_cache(config),
                   max_total_query_length=max_total_query_length, sharding=sharding)

    async def do(self, request: QueryRequest) -> QueryResponse:
        return await self.handler.do(request)

    def routes(self) -> list[Route]:
        return frontend_routes(self.handler, self.config, downstream=self.downstream)

    def drain(self) -> None:
        """Stop taking queries (shutdown): queued ones get a 503, running ones finish."""
        self.queue.drain()

    async def close(self) -> None:
        await self.queue.close()
        if self.cache is not None:
            await self.cache.close()
        await self.downstream.close()
