"""Query-frontend settings (YAML ``frontend``), with Mimir's names, flags and defaults.

Mimir spreads these over ``frontend``, ``limits`` and ``query_scheduler``; Tidewell
keeps the ones the frontend reads in one block, but every flag is spelled as
Mimir spells it so command lines carry over.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tidewell.util.config_fields import InvalidValueError, setting

__all__ = [
    "BACKENDS",
    "ErrInvalidMaxQueryParallelism",
    "ErrInvalidResultsCacheBackend",
    "ErrInvalidSplitInterval",
    "ErrMissingMemcachedAddresses",
    "FrontendConfig",
    "MemcachedConfig",
    "ResultsCacheConfig",
]

BACKENDS = ("", "inmemory", "memcached")


class ErrInvalidSplitInterval(InvalidValueError):
    """``-query-frontend.split-queries-by-interval`` must be 0 (off) or a positive duration."""


class ErrInvalidMaxQueryParallelism(InvalidValueError):
    """``-querier.max-query-parallelism`` must be at least 1."""


class ErrInvalidResultsCacheBackend(InvalidValueError):
    """``-query-frontend.results-cache.backend`` names an unknown backend."""


class ErrMissingMemcachedAddresses(InvalidValueError):
    """The memcached backend needs ``-query-frontend.results-cache.memcached.addresses``."""


@dataclass
class MemcachedConfig:
    addresses: list[str] = field(default_factory=list, metadata=setting(
        "Comma-separated list of memcached addresses (host:port).",
        flag="query-frontend.results-cache.memcached.addresses", kind="list"))
    timeout: float = field(default=0.2, metadata=setting(
        "The socket read/write timeout.",
        flag="query-frontend.results-cache.memcached.timeout", kind="duration"))
    max_idle_connections: int = field(default=100, metadata=setting(
        "The maximum number of idle connections kept open per memcached server.",
        flag="query-frontend.results-cache.memcached.max-idle-connections"))
    max_item_size: int = field(default=1 << 20, metadata=setting(
        "The maximum size of an item stored in memcached, in bytes. Bigger items are not "
        "stored. Should match memcached's -I.",
        flag="query-frontend.results-cache.memcached.max-item-size"))


@dataclass
class ResultsCacheConfig:
    backend: str = field(default="inmemory", metadata=setting(
        "Backend for query-frontend results cache: '' (none), 'inmemory' or 'memcached'.",
        flag="query-frontend.results-cache.backend", choices=BACKENDS))
    inmemory_max_size_bytes: int = field(default=256 << 20, metadata=setting(
        "Bound of the in-memory results cache, in bytes; least recently used entries go first.",
        flag="query-frontend.results-cache.inmemory.max-size-bytes"))
    ttl: float = field(default=7 * 86400.0, metadata=setting(
        "Time to live of an entry in the results cache. 0 means forever.",
        flag="query-frontend.results-cache-ttl", kind="duration"))
    memcached: MemcachedConfig = field(default_factory=MemcachedConfig)


@dataclass
class FrontendConfig:
    split_queries_by_interval: float = field(default=86400.0, metadata=setting(
        "Split range queries by an interval and execute in parallel. 0 disables it. The "
        "intervals are aligned to UTC midnight when the interval is 24h.",
        flag="query-frontend.split-queries-by-interval", kind="duration"))
    align_queries_with_step: bool = field(default=False, metadata=setting(
        "Mutate incoming queries to align their start and end with their step.",
        flag="query-frontend.align-queries-with-step"))
    cache_results: bool = field(default=True, metadata=setting(
        "Cache query results.", flag="query-frontend.cache-results"))
    max_cache_freshness: float = field(default=600.0, metadata=setting(
        "Most recent allowed cacheable result, to prevent caching very recent results that "
        "might still be in flux.", flag="query-frontend.max-cache-freshness", kind="duration"))
    cache_unaligned_requests: bool = field(default=False, metadata=setting(
        "Cache requests that are not step-aligned.",
        flag="query-frontend.cache-unaligned-requests"))
    results_cache: ResultsCacheConfig = field(default_factory=ResultsCacheConfig)
    parallelize_shardable_queries: bool = field(default=False, metadata=setting(
        "True to enable query sharding: shardable queries run as one query per shard "
        "(the tenant's query_sharding_total_shards), concurrently, their answers merged "
        "by the query-frontend.", flag="query-frontend.parallelize-shardable-queries"))
    max_query_parallelism: int = field(default=14, metadata=setting(
        "Maximum number of split queries of one query that are scheduled in parallel.",
        flag="querier.max-query-parallelism"))
    max_outstanding_requests_per_tenant: int = field(default=100, metadata=setting(
        "Maximum number of outstanding requests per tenant per frontend; requests beyond "
        "this error with HTTP 429.", flag="querier.max-outstanding-requests-per-tenant"))
    querier_concurrency: int = field(default=8, metadata=setting(
        "How many queued requests the frontend runs against the downstream at once "
        "(the querier workers pulling from the queue; Mimir's -querier.max-concurrent).",
        flag="query-frontend.querier-concurrency"))
    downstream_url: str = field(default="", metadata=setting(
        "URL of the querier's HTTP API when the frontend runs as its own process "
        "(e.g. http://querier:8080); several queriers separated by commas are used "
        "round-robin, skipping one that refuses connections. Empty in single-process mode.",
        flag="query-frontend.downstream-url"))
    max_retries_per_request: int = field(default=5, metadata=setting(
        "Maximum number of retries for a single request to the downstream, on connection "
        "errors and 502/503/504 only; beyond this the error is returned.",
        flag="query-frontend.max-retries-per-request"))
    query_timeout: float = field(default=120.0, metadata=setting(
        "Timeout of a query through the frontend, queueing included.",
        flag="query-frontend.query-timeout", kind="duration"))

    def validate(self) -> None:
        if self.split_queries_by_interval < 0:
            raise ErrInvalidSplitInterval(
                "query-frontend.split-queries-by-interval must be 0 or positive")
        if self.max_query_parallelism < 1:
            raise ErrInvalidMaxQueryParallelism("querier.max-query-parallelism must be >= 1")
        if self.results_cache.backend not in BACKENDS:
            raise ErrInvalidResultsCacheBackend(
                f"unsupported query-frontend.results-cache.backend "
                f"{self.results_cache.backend!r} (supported: inmemory, memcached)")
        if self.results_cache.backend == "memcached" and not self.results_cache.memcached.addresses:
            raise ErrMissingMemcachedAddresses(
                "query-frontend.results-cache.memcached.addresses is required when "
                "query-frontend.results-cache.backend=memcached")
