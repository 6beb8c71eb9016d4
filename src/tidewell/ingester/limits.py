"""The per-tenant limits the ingester reads, declared here by their consumer.

The lead's ``Overrides`` satisfies this protocol; ``StaticLimits`` serves tests
and single-tenant setups.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["IngesterLimits", "StaticLimits"]


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


@dataclass(frozen=True)
class StaticLimits:
    """The same limits for every tenant (Mimir's defaults)."""

    max_series: int = 150_000
    ooo_window_s: float = 0.0
    shard_size: int = 0

    def max_global_series_per_user(self, tenant: str) -> int:
        return self.max_series

    def out_of_order_time_window(self, tenant: str) -> float:
        return self.ooo_window_s

    def ingestion_partitions_tenant_shard_size(self, tenant: str) -> int:
        return self.shard_size
