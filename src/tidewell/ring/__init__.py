"""Rings: the partition ring and instance rings, stored in a shared KV.

The partition ring says which partitions exist, their states and owners, and
places series; distributors read snapshots (``PartitionRing``) through a
``PartitionRingWatcher``, ingesters join through ``PartitionInstanceLifecycler``.
Instance rings (ingesters, store-gateways) list live instances with
heartbeats (``InstanceLifecycler``, ``InstanceRingWatcher``) and shard blocks.
Rings live in a ``KV``: in memory in one process, etcd for a cluster
(``new_kv``). Status pages: ``ring_status_routes``.
"""

from tidewell.ring.config import (
    EtcdConfig,
    InstanceRingConfig,
    KVConfig,
    PartitionRingConfig,
    StoreGatewayShardingRingConfig,
    instance_ring_config_type,
    kv_config_type,
)
from tidewell.ring.etcd import EtcdKV
from tidewell.ring.instance_lifecycler import InstanceLifecycler
from tidewell.ring.instance_ring import (
    INGESTER_RING_KEY,
    STORE_GATEWAY_RING_KEY,
    InstanceDesc,
    InstanceRing,
    InstanceRingDesc,
    InstanceRingSource,
    InstanceRingWatcher,
    InstanceState,
    hash_block_id,
)
from tidewell.ring.kv import KV, CASError, InMemoryKV, PrefixedKV
from tidewell.ring.kv_factory import close_kv, new_kv
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
    PartitionRingSource,
    PartitionRingWatcher,
)
from tidewell.ring.status import ring_status_routes
from tidewell.ring.tokens import TOKENS_PER_PARTITION, partition_tokens

__all__ = [
    "INGESTER_RING_KEY",
    "KV",
    "PARTITION_RING_KEY",
    "STORE_GATEWAY_RING_KEY",
    "TOKENS_PER_PARTITION",
    "CASError",
    "EtcdConfig",
    "EtcdKV",
    "InMemoryKV",
    "InstanceDesc",
    "InstanceLifecycler",
    "InstanceRing",
    "InstanceRingConfig",
    "InstanceRingDesc",
    "InstanceRingSource",
    "InstanceRingWatcher",
    "InstanceState",
    "KVConfig",
    "NoActivePartitionError",
    "OwnerDesc",
    "OwnerState",
    "PartitionDesc",
    "PartitionInstanceLifecycler",
    "PartitionNotFoundError",
    "PartitionRing",
    "PartitionRingConfig",
    "PartitionRingDesc",
    "PartitionRingSource",
    "PartitionRingWatcher",
    "PartitionState",
    "PrefixedKV",
    "StoreGatewayShardingRingConfig",
    "close_kv",
    "hash_block_id",
    "instance_ring_config_type",
    "kv_config_type",
    "new_kv",
    "partition_tokens",
    "ring_status_routes",
]
