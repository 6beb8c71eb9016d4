"""Bucket operation metrics, named as Mimir exposes them (Thanos objstore + ``thanos_``).

Mimir labels them with ``component`` (``ingester``, ``store-gateway`` …) and
``operation`` (``get``, ``get_range``, ``upload``, ``delete``, ``exists``,
``attributes``, ``iter``), so its object-store dashboards work unchanged.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "LAST_SUCCESSFUL_UPLOAD",
    "OPERATIONS",
    "OPS",
    "OPS_DURATION",
    "OPS_FAILURES",
    "OPS_FETCHED_BYTES",
]

OPERATIONS = ("iter", "get", "get_range", "exists", "upload", "delete", "attributes")

OPS = Counter(
    "thanos_objstore_bucket_operations_total",
    "Total number of all attempted operations against a bucket.",
    ["component", "operation"],
)
OPS_FAILURES = Counter(
    "thanos_objstore_bucket_operation_failures_total",
    "Total number of operations against a bucket that failed, but were not expected to "
    "fail in certain way from caller perspective. Those errors have to be investigated.",
    ["component", "operation"],
)
OPS_DURATION = Histogram(
    "thanos_objstore_bucket_operation_duration_seconds",
    "Duration of successful operations against the bucket",
    ["component", "operation"],
    buckets=(0.001, 0.01, 0.1, 0.3, 0.6, 1, 3, 6, 9, 20, 30, 60, 90, 120),
)
OPS_FETCHED_BYTES = Counter(
    "thanos_objstore_bucket_operation_fetched_bytes_total",
    "Total number of bytes fetched from bucket, per operation.",
    ["component", "operation"],
)
LAST_SUCCESSFUL_UPLOAD = Gauge(
    "thanos_objstore_bucket_last_successful_upload_time",
    "Second timestamp of the last successful upload to the bucket.",
    ["component"],
)
