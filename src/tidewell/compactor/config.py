"""Mimir's ``compactor`` block: ``-compactor.*`` flags with Mimir's defaults."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from tidewell.model.errors import TidewellError
from tidewell.ring.config import instance_ring_config_type
from tidewell.util.config_fields import parse_duration, setting

__all__ = ["CompactorConfig", "CompactorRingConfig", "InvalidCompactorConfigError"]

# YAML compactor.sharding_ring, flags -compactor.ring.*: each tenant has one owner.
CompactorRingConfig = instance_ring_config_type(
    "compactor.ring", name="CompactorRingConfig", joined=True, replication_factor=1,
    num_tokens=512,
)


class InvalidCompactorConfigError(TidewellError, ValueError):
    """A ``compactor`` setting is out of range; the message names the flag."""


@dataclass
class CompactorConfig:
    block_ranges: list[str] = field(
        default_factory=lambda: ["2h0m0s", "12h0m0s", "24h0m0s"],
        metadata=setting("List of compaction time ranges.", flag="compactor.block-ranges",
                         kind="list"),
    )
    data_dir: str = field(
        default="",
        metadata=setting("Directory to temporarily store blocks during compaction. "
                         "Empty: <common.storage.path>/compactor.",
                         flag="compactor.data-dir"),
    )
    compaction_interval: float = field(
        default=3600.0,
        metadata=setting("The frequency at which the compaction runs.",
                         flag="compactor.compaction-interval", kind="duration"),
    )
    compaction_concurrency: int = field(
        default=1,
        metadata=setting("Max number of concurrent compactions running.",
                         flag="compactor.compaction-concurrency"),
    )
    first_level_compaction_wait_period: float = field(
        default=25 * 60.0,
        metadata=setting("How long the compactor waits before compacting first-level blocks "
                         "that are uploaded by the ingesters.",
                         flag="compactor.first-level-compaction-wait-period", kind="duration"),
    )
    cleanup_interval: float = field(
        default=15 * 60.0,
        metadata=setting("How frequently the compactor should run blocks cleanup and "
                         "maintenance, as well as update the bucket index.",
                         flag="compactor.cleanup-interval", kind="duration"),
    )
    deletion_delay: float = field(
        default=12 * 3600.0,
        metadata=setting("Time before a block marked for deletion is deleted from the bucket.",
                         flag="compactor.deletion-delay", kind="duration"),
    )

    tenant_cleanup_delay: float = field(
        default=6 * 3600.0,
        metadata=setting("For tenants marked for deletion, this is the time between deletion "
                         "of the last block, and doing final cleanup (marker files, debug "
                         "files) of the tenant.",
                         flag="compactor.tenant-cleanup-delay", kind="duration"),
    )
    sharding_ring: CompactorRingConfig = field(default_factory=CompactorRingConfig)  # type: ignore[valid-type]

    def block_ranges_ms(self) -> list[int]:
        """The ranges in milliseconds, smallest first."""
        return [int(parse_duration(r) * 1000) for r in self.block_ranges]

    def validate(self) -> None:
        ranges = self.block_ranges_ms()
        if not ranges or any(r <= 0 for r in ranges):
            raise InvalidCompactorConfigError(
                "-compactor.block-ranges: at least one positive range required")
        for a, b in itertools.pairwise(ranges):
            if b % a:
                raise InvalidCompactorConfigError(
                    f"-compactor.block-ranges: {b} ms is not divisible by the previous {a} ms")
        if self.compaction_concurrency < 1:
            raise InvalidCompactorConfigError("-compactor.compaction-concurrency must be >= 1")
        if self.deletion_delay < 0:
            raise InvalidCompactorConfigError("-compactor.deletion-delay must be >= 0")
