"""Store-gateway settings: Mimir's ``blocks_storage.bucket_store`` block.

The lead nests :class:`BucketStoreConfig` as ``blocks_storage.bucket_store``, so
flags come out as Mimir's (``-blocks-storage.bucket-store.sync-interval`` …).
Caches live in memory and are bounded in bytes; a ``max_size_bytes`` of 0
disables a cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tidewell.util.config_fields import InvalidValueError, setting

__all__ = [
    "BucketIndexConfig",
    "BucketStoreConfig",
    "ChunksCacheConfig",
    "ChunksInMemoryCacheConfig",
    "InMemoryCacheConfig",
    "IndexCacheConfig",
    "InvalidBucketStoreConfigError",
]

_FLAG = "blocks-storage.bucket-store."


class InvalidBucketStoreConfigError(InvalidValueError):
    """A ``blocks_storage.bucket_store`` setting is out of range; the message names the flag."""


@dataclass
class InMemoryCacheConfig:
    max_size_bytes: int = field(
        default=1024 * 1024 * 1024,
        metadata=setting("Maximum size in bytes of the in-memory cache. 0 disables it."),
    )


@dataclass
class ChunksInMemoryCacheConfig:
    max_size_bytes: int = field(
        default=512 * 1024 * 1024,
        metadata=setting("Maximum size in bytes of the in-memory cache. 0 disables it."),
    )


@dataclass
class IndexCacheConfig:
    """Postings, expanded postings and series entries of block indexes."""

    backend: str = field(
        default="inmemory",
        metadata=setting("The index cache backend type.", choices=("inmemory",)),
    )
    inmemory: InMemoryCacheConfig = field(default_factory=InMemoryCacheConfig)


@dataclass
class ChunksCacheConfig:
    """Pages of chunk segment files fetched from the bucket."""

    backend: str = field(
        default="inmemory",
        metadata=setting(
            "The chunks cache backend type; empty disables it.", choices=("inmemory", "")
        ),
    )
    inmemory: ChunksInMemoryCacheConfig = field(default_factory=ChunksInMemoryCacheConfig)


@dataclass
class BucketIndexConfig:
    max_stale_period: float = field(
        default=3600.0,
        metadata=setting(
            "The maximum allowed age of a bucket index (last updated) before queries start "
            "failing because the bucket index is too old. The bucket index is periodically "
            "updated by the compactor, and this check is enforced in the querier and "
            "store-gateway (at query time). 0 disables the check.",
            kind="duration",
        ),
    )


@dataclass
class BucketStoreConfig:
    sync_dir: str = field(
        default="",
        metadata=setting(
            "Directory to store synchronized index files of blocks. "
            "Empty: <common.storage.path>/tsdb-sync."
        ),
    )
    sync_interval: float = field(
        default=15 * 60.0,
        metadata=setting(
            "How frequently to scan the bucket (bucket index) for new blocks and "
            "blocks to drop.",
            kind="duration",
        ),
    )
    ignore_deletion_mark_delay: float = field(
        default=3600.0,
        metadata=setting(
            "Duration after which the blocks marked for deletion are filtered out while "
            "fetching blocks. The delay gives queriers time to stop querying them.",
            kind="duration",
            flag=_FLAG + "ignore-deletion-marks-delay",
        ),
    )
    ignore_blocks_within: float = field(
        default=0.0,
        metadata=setting(
            "Blocks with a minimum time within this duration from now are not loaded "
            "(ingesters still serve them). 0 loads every block. Mimir's default is 10h; "
            "ours is 0 so that a restarted single process still finds its data.",
            kind="duration",
        ),
    )
    partitioner_max_gap_bytes: int = field(
        default=512 * 1024,
        metadata=setting(
            "Chunk byte ranges closer than this are fetched from the bucket with one "
            "ranged GET."
        ),
    )
    chunks_page_size_bytes: int = field(
        default=16 * 1024,
        metadata=setting(
            "Chunk segment files are fetched and cached in pages of this size."
        ),
    )
    index_cache: IndexCacheConfig = field(default_factory=IndexCacheConfig)
    chunks_cache: ChunksCacheConfig = field(default_factory=ChunksCacheConfig)
    bucket_index: BucketIndexConfig = field(default_factory=BucketIndexConfig)

    def resolved_sync_dir(self, common_storage_path: str | Path) -> Path:
        """The sync directory, defaulting under the common storage path."""
        return Path(self.sync_dir) if self.sync_dir else Path(common_storage_path) / "tsdb-sync"

    def validate(self) -> None:
        if self.sync_interval <= 0:
            raise InvalidBucketStoreConfigError(
                f"invalid value for -{_FLAG}sync-interval: must be > 0"
            )
        for name, value in (
            ("ignore-deletion-marks-delay", self.ignore_deletion_mark_delay),
            ("ignore-blocks-within", self.ignore_blocks_within),
            ("partitioner-max-gap-bytes", self.partitioner_max_gap_bytes),
            ("index-cache.inmemory.max-size-bytes", self.index_cache.inmemory.max_size_bytes),
            ("chunks-cache.inmemory.max-size-bytes", self.chunks_cache.inmemory.max_size_bytes),
            ("bucket-index.max-stale-period", self.bucket_index.max_stale_period),
        ):
            if value < 0:
                raise InvalidBucketStoreConfigError(
                    f"invalid value for -{_FLAG}{name}: must be >= 0"
                )
        page = self.chunks_page_size_bytes
        if page < 1024 or page & (page - 1):
            raise InvalidBucketStoreConfigError(
                f"invalid value for -{_FLAG}chunks-page-size-bytes: "
                "must be a power of two of at least 1024"
            )
