"""Ring metrics, defined once per process (Mimir's names)."""

from __future__ import annotations

from prometheus_client import Gauge

__all__ = ["PARTITIONS"]

PARTITIONS = Gauge(
    "cortex_partition_ring_partitions",
    "Number of partitions by state in the partitions ring.",
    ["state"],
)
