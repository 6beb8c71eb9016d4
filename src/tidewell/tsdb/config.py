"""TSDB settings of ingesters (Mimir's ``blocks_storage.tsdb`` block).

The durability settings (``wal_*``, ``memory_snapshot_*``) describe the
ingester's own local copy of what it consumed; see ``tidewell/ingester/DESIGN.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tidewell.model.errors import TidewellError
from tidewell.util.config_fields import setting


class InvalidTSDBConfigError(TidewellError, ValueError):
    """A ``blocks_storage.tsdb`` setting is out of range; the message names the flag."""


@dataclass
class TSDBConfig:
    dir: str = field(
        default="",
        metadata=setting(
            "Directory for the ingester's TSDB (WAL, snapshots, blocks being cut). "
            "Empty: <common.storage.path>/tsdb."
        ),
    )
    block_ranges_period: float = field(
        default=7200.0,
        metadata=setting(
            "Time range of the blocks cut from the head (a single duration; Mimir's "
            "list form is not supported); head chunks never cross a multiple of it.",
            kind="duration",
        ),
    )
    retention_period: float = field(
        default=13 * 3600.0,
        metadata=setting(
            "How long blocks stay on the ingester's local disk (and queryable there): a "
            "block is deleted once the newest local block ends this much later and it "
            "was shipped.",
            kind="duration",
        ),
    )
    head_compaction_interval: float = field(
        default=60.0,
        metadata=setting("How often the head is checked for a block to cut.", kind="duration"),
    )
    ship_interval: float = field(
        default=60.0,
        metadata=setting(
            "How frequently the ingester uploads new local blocks to the bucket. 0 disables "
            "shipping.",
            kind="duration",
        ),
    )
    ship_concurrency: int = field(
        default=10,
        metadata=setting("Maximum number of tenants concurrently shipping blocks."),
    )
    wal_segment_size_bytes: int = field(
        default=128 * 1024 * 1024,
        metadata=setting("Size at which the ingester starts a new WAL segment file."),
    )
    memory_snapshot_on_shutdown: bool = field(
        default=True,
        metadata=setting(
            "Write a snapshot of the in-memory head on clean shutdown, so the next "
            "start loads it instead of replaying the WAL."
        ),
    )
    memory_snapshot_interval: float = field(
        default=30 * 60.0,
        metadata=setting(
            "How often a snapshot of the head is written while running, after which "
            "older WAL segments are deleted. 0 disables periodic snapshots.",
            kind="duration",
        ),
    )
    memory_snapshot_wal_size_bytes: int = field(
        default=512 << 20,
        metadata=setting(
            "Also write a snapshot once the WAL written since the last one reaches this "
            "size, which bounds the replay after a crash (about 40M samples, 1-2 minutes, "
            "at the default). 0 disables it.",
        ),
    )

    def resolved_dir(self, common_storage_path: str | Path) -> Path:
        """The TSDB directory, defaulting under the common storage path."""
        return Path(self.dir) if self.dir else Path(common_storage_path) / "tsdb"

    def validate(self) -> None:
        if self.block_ranges_period <= 0:
            raise InvalidTSDBConfigError(
                "invalid value for -blocks-storage.tsdb.block-ranges-period: must be > 0"
            )
        if self.retention_period < 0:
            raise InvalidTSDBConfigError(
                "invalid value for -blocks-storage.tsdb.retention-period: must be >= 0"
            )
        if self.head_compaction_interval <= 0:
            raise InvalidTSDBConfigError(
                "invalid value for -blocks-storage.tsdb.head-compaction-interval: must be > 0"
            )
        if self.ship_interval < 0:
            raise InvalidTSDBConfigError(
                "invalid value for -blocks-storage.tsdb.ship-interval: must be >= 0"
            )
        if self.ship_concurrency < 1:
            raise InvalidTSDBConfigError(
                "invalid value for -blocks-storage.tsdb.ship-concurrency: must be >= 1"
            )
        if self.wal_segment_size_bytes < 1024 * 1024:
            raise InvalidTSDBConfigError(
                "invalid value for -blocks-storage.tsdb.wal-segment-size-bytes: "
                "must be at least 1MiB"
            )
        if self.memory_snapshot_interval < 0:
            raise InvalidTSDBConfigError(
                "invalid value for -blocks-storage.tsdb.memory-snapshot-interval: must be >= 0"
            )
        if self.memory_snapshot_wal_size_bytes < 0:
            raise InvalidTSDBConfigError(
                "invalid value for -blocks-storage.tsdb.memory-snapshot-wal-size-bytes: "
                "must be >= 0"
            )
