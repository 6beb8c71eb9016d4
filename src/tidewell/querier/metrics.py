"""Metrics of the querier's clients for other components (defined once per process)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = [
    "BLOCKS_FOUND",
    "BLOCKS_QUERIED",
    "CONSISTENCY_CHECKS",
    "CONSISTENCY_CHECKS_FAILED",
    "REPLICA_FALLBACKS",
    "REQUEST_DURATION",
    "RETRIES",
    "STORE_GATEWAYS_HIT",
    "STORE_GATEWAY_REFETCHES",
]

REQUEST_DURATION = Histogram(
    "tidewell_querier_remote_request_duration_seconds",
    "Time of one attempt of an internal read call to an ingester or store-gateway.",
    ["operation", "status_code"],
    buckets=(0.001, 0.005, 0.025, 0.1, 0.5, 2.5, 10, 30),
)
RETRIES = Counter(
    "tidewell_querier_remote_retries_total",
    "Internal read calls retried after a connection error, 429 or 5xx.",
    ["operation"],
)
REPLICA_FALLBACKS = Counter(
    "tidewell_querier_replica_fallbacks_total",
    "Reads that failed on one replica of a partition and were asked of another.",
)

# The blocks-store queryable, with Mimir's names.
STORE_GATEWAYS_HIT = Histogram(
    "cortex_querier_storegateway_instances_hit_per_query",
    "Number of store-gateway instances hit for a single query.",
    buckets=tuple(range(11)),
)
STORE_GATEWAY_REFETCHES = Histogram(
    "cortex_querier_storegateway_refetches_per_query",
    "Number of re-fetches attempted while querying store-gateway instances due to missing "
    "blocks.",
    buckets=(0, 1, 2),
)
BLOCKS_FOUND = Counter(
    "cortex_querier_blocks_found_total", "Number of blocks found based on query time range."
)
BLOCKS_QUERIED = Counter(
    "cortex_querier_blocks_queried_total", "Number of blocks queried to satisfy query."
)
CONSISTENCY_CHECKS = Counter(
    "cortex_querier_blocks_consistency_checks_total",
    "Total number of consistency checks run on queried blocks.",
)
CONSISTENCY_CHECKS_FAILED = Counter(
    "cortex_querier_blocks_consistency_checks_failed_total",
    "Total number of consistency checks failed on queried blocks.",
)
