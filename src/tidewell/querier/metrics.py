"""Metrics of the querier's clients for other components (defined once per process)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = ["REPLICA_FALLBACKS", "REQUEST_DURATION", "RETRIES"]

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
