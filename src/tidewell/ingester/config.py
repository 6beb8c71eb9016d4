"""Ingester settings (Mimir's ``ingester`` block)."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field

from tidewell.model.errors import TidewellError
from tidewell.ring.config import IngesterInstanceRingConfig, PartitionRingConfig
from tidewell.util.config_fields import setting

__all__ = ["IngesterConfig", "IngesterRingConfig", "InvalidIngesterConfigError", "partition_of"]

_TRAILING_NUMBER = re.compile(r"-(\d+)$")


class InvalidIngesterConfigError(TidewellError, ValueError):
    """An ``ingester`` setting is invalid; the message names the flag."""


def partition_of(instance_id: str) -> int:
    """The partition an instance owns: its ID's trailing number (``ingester-zone-a-7`` → 7)."""
    m = _TRAILING_NUMBER.search(instance_id)
    if m is None:
        raise InvalidIngesterConfigError(
            f"-ingester.ring.instance-id {instance_id!r} does not end with a partition number "
            "(expected e.g. ingester-zone-a-7)"
        )
    return int(m.group(1))


@dataclass
class IngesterRingConfig(IngesterInstanceRingConfig):  # type: ignore[valid-type,misc]
    """The ingester's ring, as every joined ring's; its ID also names its partition."""

    instance_id: str = field(
        default_factory=socket.gethostname,
        metadata=setting(
            "Instance ID to register in the ring; its trailing number is the partition "
            "it consumes (default: the hostname)."
        ),
    )


@dataclass
class IngesterConfig:
    ring: IngesterRingConfig = field(default_factory=IngesterRingConfig)
    partition_ring: PartitionRingConfig = field(default_factory=PartitionRingConfig)
    fetch_max_records: int = field(
        default=1000,
        metadata=setting(
            "Maximum records the partition consumer fetches and applies at once (one WAL "
            "sync per fetch); fewer when records are large (about 2MB per fetch).",
        ),
    )
    fetch_wait: float = field(
        default=0.5,
        metadata=setting(
            "How long a fetch waits for new records before returning empty.",
            kind="duration",
        ),
    )

    metadata_retain_period: float = field(
        default=600.0,
        metadata=setting(
            "Period at which metadata we have not seen will remain in memory before being "
            "deleted.",
            kind="duration",
        ),
    )

    active_series_metrics_idle_timeout: float = field(
        default=1200.0,
        metadata=setting(
            "After what time a series is considered to be inactive (the cardinality API's "
            "count_method=active and /api/v1/cardinality/active_series).",
            kind="duration",
        ),
    )

    @property
    def partition_id(self) -> int:
        return partition_of(self.ring.instance_id)

    def validate(self) -> None:
        if self.fetch_max_records < 1:
            raise InvalidIngesterConfigError(
                "invalid value for -ingester.fetch-max-records: must be >= 1"
            )
        if self.fetch_wait <= 0:
            raise InvalidIngesterConfigError(
                "invalid value for -ingester.fetch-wait: must be > 0"
            )
