"""Settings of the ingester's partition ring membership (Mimir's names and defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tidewell.util.config_fields import setting

__all__ = ["PartitionRingConfig"]


@dataclass
class PartitionRingConfig:
    """YAML ``ingester.partition_ring``; flags ``-ingester.partition-ring.*``."""

    kvstore_store: str = field(
        default="inmemory",
        metadata=setting(
            "Backend storage to use for the ring. Only inmemory is built in.",
            flag="ingester.partition-ring.store",
            choices=("inmemory",),
        ),
    )
    min_partition_owners_count: int = field(
        default=1,
        metadata=setting(
            "Minimum number of owners to wait before a PENDING partition gets switched to ACTIVE.",
            flag="ingester.partition-ring.min-partition-owners-count",
        ),
    )
    min_partition_owners_duration: float = field(
        default=10.0,
        metadata=setting(
            "How long the minimum number of owners are enforced before a PENDING partition "
            "gets switched to ACTIVE.",
            flag="ingester.partition-ring.min-partition-owners-duration",
            kind="duration",
        ),
    )
    delete_inactive_partition_after: float = field(
        default=13 * 3600.0,
        metadata=setting(
            "How long to wait before an INACTIVE partition is eligible for deletion. "
            "The partition is deleted only if it has been in INACTIVE state for at least the "
            "configured duration and it has no owners registered. A value of 0 disables "
            "partitions deletion.",
            flag="ingester.partition-ring.delete-inactive-partition-after",
            kind="duration",
        ),
    )
    lifecycler_poll_period: float = field(
        default=10.0,
        metadata=setting(
            "How often the partition lifecycler reconciles the ring (PENDING to ACTIVE, "
            "deletion of old INACTIVE partitions).",
            flag="ingester.partition-ring.lifecycler-poll-period",
            kind="duration",
        ),
    )
