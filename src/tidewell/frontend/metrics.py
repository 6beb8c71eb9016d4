"""Query-frontend metrics, defined once per process (Mimir's names where meaning matches)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "CACHE_HITS",
    "CACHE_REQUESTS",
    "DISCARDED_REQUESTS",
    "QUERY_DURATION",
    "QUEUE_LENGTH",
    "RESULTS_CACHE_BACKEND_ERRORS",
    "RETRIES",
    "SHARDED_QUERIES",
    "SHARDED_QUERIES_PER_QUERY",
    "SHARDING_ATTEMPTS",
    "SHARDING_SUCCESSES",
    "SPLIT_QUERIES",
]

SPLIT_QUERIES = Counter(
    "cortex_frontend_split_queries_total",
    "Total number of underlying query requests after the split by interval is applied.")
CACHE_REQUESTS = Counter(
    "cortex_frontend_query_result_cache_requests_total",
    "Total number of requests (or partial requests) looked up in the results cache.",
    ["request_type"])
CACHE_HITS = Counter(
    "cortex_frontend_query_result_cache_hits_total",
    "Total number of requests (or partial requests) fetched from the results cache.",
    ["request_type"])
RESULTS_CACHE_BACKEND_ERRORS = Counter(
    "tidewell_frontend_results_cache_backend_errors_total",
    "Results cache operations that failed (treated as a miss), by backend and operation.",
    ["backend", "operation"])
QUEUE_LENGTH = Gauge(
    "cortex_query_frontend_queue_length", "Number of queries in the queue.", ["user"])
DISCARDED_REQUESTS = Counter(
    "cortex_query_frontend_discarded_requests_total",
    "Total number of query requests discarded because the tenant's queue was full.", ["user"])
RETRIES = Histogram(
    "cortex_query_frontend_retries", "Number of times a request is retried.",
    buckets=[0, 1, 2, 3, 4, 5])
QUERY_DURATION = Histogram(
    "cortex_frontend_query_range_duration_seconds",
    "Total time spent in seconds doing queries through the frontend.",
    ["method", "status_code"])
SHARDING_ATTEMPTS = Counter(
    "cortex_frontend_query_sharding_rewrites_attempted_total",
    "Total number of queries the query-frontend attempted to shard.")
SHARDING_SUCCESSES = Counter(
    "cortex_frontend_query_sharding_rewrites_succeeded_total",
    "Total number of queries the query-frontend successfully rewritten in a shardable way.")
SHARDED_QUERIES = Counter(
    "cortex_frontend_sharded_queries_total", "Total number of sharded queries.")
SHARDED_QUERIES_PER_QUERY = Histogram(
    "cortex_frontend_sharded_queries_per_query",
    "Number of sharded queries a single query has been rewritten to.",
    buckets=[2.0 * 2**i for i in range(10)])
