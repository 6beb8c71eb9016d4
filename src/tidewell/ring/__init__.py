"""Partition ring: which partitions exist, their states and owners, and series placement.

The ring is stored in a ``KV`` (in memory in one process) so a cluster can share
it; distributors read snapshots (``PartitionRing``) through a
``PartitionRingWatcher``, ingesters join through ``PartitionInstanceLifecycler``.
"""

from tidewell.ring.config import PartitionRingConfig
from tidewell.ring.kv import KV, CASError, InMemoryKV
from tidewell.ring.lifecycler import PartitionInstanceLifecycler, PartitionNotFoundError
from tidewell.ring.model import (
    OwnerDesc,
    OwnerState,
    PartitionDesc,
    PartitionRingDesc,
    PartitionState,
)
from tidewell.ring.partition_ring import (
    PARTITION_RING_KEY,
    NoActivePartitionError,
    PartitionRing,
    PartitionRingWatcher,
)
from tidewell.ring.tokens import TOKENS_PER_PARTITION, partition_tokens

__all__ = [
    "KV",
    "PARTITION_RING_KEY",
    "TOKENS_PER_PARTITION",
    "CASError",
    "InMemoryKV",
    "NoActivePartitionError",
    "OwnerDesc",
    "OwnerState",
    "PartitionDesc",
    "PartitionInstanceLifecycler",
    "PartitionNotFoundError",
    "PartitionRing",
    "PartitionRingConfig",
    "PartitionRingDesc",
    "PartitionRingWatcher",
    "PartitionState",
    "partition_tokens",
]
