"""Ring metrics, defined once per process (Mimir's / dskit's names)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "KV_REQUEST_DURATION",
    "PARTITIONS",
    "RING_MEMBERS",
    "RING_MEMBER_HEARTBEATS",
    "RING_MEMBER_TOKENS_OWNED",
    "RING_OLDEST_MEMBER_TIMESTAMP",
    "RING_TOKENS_TOTAL",
]

PARTITIONS = Gauge(
    "cortex_partition_ring_partitions",
    "Number of partitions by state in the partitions ring.",
    ["state"],
)
RING_MEMBERS = Gauge(
    "cortex_ring_members",
    "Number of members in the ring by state (ACTIVE, JOINING, LEAVING, Unhealthy).",
    ["name", "state"],
)
RING_OLDEST_MEMBER_TIMESTAMP = Gauge(
    "cortex_ring_oldest_member_timestamp",
    "Timestamp of the oldest member in the ring.",
    ["name", "state"],
)
RING_TOKENS_TOTAL = Gauge(
    "cortex_ring_tokens_total", "Number of tokens in the ring.", ["name"]
)
RING_MEMBER_HEARTBEATS = Counter(
    "cortex_ring_member_heartbeats",
    "The total number of heartbeats sent.",
    ["name"],
)
RING_MEMBER_TOKENS_OWNED = Gauge(
    "cortex_ring_member_tokens_owned",
    "The number of tokens owned in the ring.",
    ["name"],
)
KV_REQUEST_DURATION = Histogram(
    "cortex_kv_request_duration_seconds",
    "Time spent on KV store requests.",
    ["operation", "status_code", "kv_name"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10),
)
