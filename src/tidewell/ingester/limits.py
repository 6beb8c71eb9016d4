"""The per-tenant limits the ingester reads, declared here by their consumer.

The lead's ``Overrides`` satisfies this protocol; ``StaticLimits`` serves tests
and single-tenant setups. ``LocalLimits`` turns the global (cluster-wide)
limits into this ingester's share.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["DEFAULT_MAX_GLOBAL_EXEMPLARS_PER_USER", "IngesterLimits", "LocalLimits",
           "StaticLimits"]

DEFAULT_MAX_GLOBAL_EXEMPLARS_PER_USER = 100_000
"""Prometheus's default exemplar buffer (``storage.exemplars.max_exemplars``); Mimir's 0
would acknowledge exemplars and throw them away (see the flag's help)."""


class IngesterLimits(Protocol):
    def max_global_series_per_user(self, tenant: str) -> int:
        """Series a tenant may have across all partitions (0 = unlimited)."""
        ...

    def out_of_order_time_window(self, tenant: str) -> float:
        """Seconds into the past out-of-order samples are accepted (0 = rejected)."""
        ...

    def ingestion_partitions_tenant_shard_size(self, tenant: str) -> int:
        """Partitions the tenant is sharded to (0 = all active partitions)."""
        ...

    def max_global_exemplars_per_user(self, tenant: str) -> int:
        """Exemplars a tenant may keep in memory across all partitions (0 = none)."""
        ...

    def max_global_metadata_per_user(self, tenant: str) -> int:
        """Metric families with metadata across all partitions (0 = unlimited)."""
        ...

    def max_global_metadata_per_metric(self, tenant: str) -> int:
        """Metadata per metric family across all partitions (0 = unlimited)."""
        ...


@dataclass(frozen=True)
class StaticLimits:
    """The same limits for every tenant (Mimir's defaults, exemplars excepted)."""

    max_series: int = 150_000
    ooo_window_s: float = 0.0
    shard_size: int = 0
    max_exemplars: int = DEFAULT_MAX_GLOBAL_EXEMPLARS_PER_USER
    max_metadata: int = 0
    max_metadata_per_metric: int = 0

    def max_global_series_per_user(self, tenant: str) -> int:
        return self.max_series

    def out_of_order_time_window(self, tenant: str) -> float:
        return self.ooo_window_s

    def ingestion_partitions_tenant_shard_size(self, tenant: str) -> int:
        return self.shard_size

    def max_global_exemplars_per_user(self, tenant: str) -> int:
        return self.max_exemplars

    def max_global_metadata_per_user(self, tenant: str) -> int:
        return self.max_metadata

    def max_global_metadata_per_metric(self, tenant: str) -> int:
        return self.max_metadata_per_metric


class LocalLimits:
    """A tenant's limits for one ingester: global ones split over the tenant's partitions.

    Every partition holds a disjoint share of the tenant's series, so a global
    limit of N allows N / partitions here (at least 1), as Mimir's limiter does
    with ingest storage. 0 stays 0.
    """

    def __init__(self, limits: IngesterLimits, partition_count: Callable[[], int]) -> None:
        self.limits = limits
        self.partition_count = partition_count

    def _local(self, limit: int, tenant: str) -> int:
        if limit <= 0:
            return 0
        shard = self.limits.ingestion_partitions_tenant_shard_size(tenant)
        partitions = shard if shard > 0 else max(1, self.partition_count())
        return max(1, math.floor(limit / partitions))

    def max_series(self, tenant: str) -> int:
        return self._local(self.limits.max_global_series_per_user(tenant), tenant)

    def max_exemplars(self, tenant: str) -> int:
        return self._local(self.limits.max_global_exemplars_per_user(tenant), tenant)

    def max_metadata(self, tenant: str) -> int:
        return self._local(self.limits.max_global_metadata_per_user(tenant), tenant)

    def max_metadata_per_metric(self, tenant: str) -> int:
        return self._local(self.limits.max_global_metadata_per_metric(tenant), tenant)

    def ooo_window_ms(self, tenant: str) -> int:
        return int(self.limits.out_of_order_time_window(tenant) * 1000)
