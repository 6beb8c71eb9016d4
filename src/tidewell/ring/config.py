"""Ring settings with Mimir's names and defaults: KV store, partition ring, instance rings.

The KV block (``store``, ``prefix``, ``etcd``) has the same shape under every
ring, but its flags depend on where it sits (``-ingester.partition-ring.store``,
``-store-gateway.sharding-ring.etcd.endpoints``), and as in Mimir the YAML-only
``kvstore`` level does not appear in the flag. ``kv_config_type(prefix)`` and
``instance_ring_config_type(prefix)`` therefore build a subclass whose fields
carry those flags; ``new_kv`` and the rings accept any ``KVConfig``.
"""

from __future__ import annotations

import dataclasses
import socket
import typing
from dataclasses import dataclass, field
from typing import Any

from tidewell.model.errors import TidewellError
from tidewell.util.config_fields import setting, setting_meta

__all__ = [
    "KV_STORES",
    "EtcdConfig",
    "IngesterInstanceRingConfig",
    "InstanceRingConfig",
    "InvalidKVConfigError",
    "JoinedRingConfig",
    "KVConfig",
    "PartitionRingConfig",
    "PartitionRingKVConfig",
    "StoreGatewayShardingRingConfig",
    "instance_ring_config_type",
    "kv_config_type",
]

KV_STORES = ("inmemory", "etcd")


class InvalidKVConfigError(TidewellError, ValueError):
    """A ring's ``kvstore`` settings are unusable; the message names the flag."""


@dataclass
class EtcdConfig:
    """Mimir's ``etcd`` KV block."""

    endpoints: list[str] = field(
        default_factory=list,
        metadata=setting("The etcd endpoints to connect to.", kind="list"),
    )
    dial_timeout: float = field(
        default=10.0,
        metadata=setting("The dial timeout for the etcd connection.", kind="duration"),
    )
    max_retries: int = field(
        default=10,
        metadata=setting("The maximum number of retries to do for failed ops."),
    )
    username: str = field(default="", metadata=setting("Etcd username."))
    password: str = field(default="", metadata=setting("Etcd password.", secret=True))


@dataclass
class KVConfig:
    """Mimir's ``kvstore`` block: which KV backend holds the ring, under which key prefix."""

    store: str = field(
        default="inmemory",
        metadata=setting(
            "Backend storage to use for the ring: inmemory (this process only) or etcd.",
            choices=KV_STORES,
        ),
    )
    prefix: str = field(
        default="collectors/",
        metadata=setting("The prefix for the keys in the store. Should end with a /."),
    )
    etcd: EtcdConfig = field(default_factory=EtcdConfig)

    _flag_prefix: typing.ClassVar[str] = "kvstore"

    def validate(self) -> None:
        p = self._flag_prefix
        if self.store not in KV_STORES:
            raise InvalidKVConfigError(
                f"invalid value {self.store!r} for -{p}.store: expected one of "
                + ", ".join(KV_STORES)
            )
        if self.store == "etcd" and not [e for e in self.etcd.endpoints if e.strip()]:
            raise InvalidKVConfigError(f"-{p}.etcd.endpoints must be set when -{p}.store=etcd")
        if self.etcd.dial_timeout <= 0:
            raise InvalidKVConfigError(f"invalid value for -{p}.etcd.dial-timeout: must be > 0")
        if self.etcd.max_retries < 1:
            raise InvalidKVConfigError(f"invalid value for -{p}.etcd.max-retries: must be >= 1")


@dataclass
class InstanceRingConfig:
    """An instance ring (dskit's ``ring.Config`` + ``BasicLifecyclerConfig``)."""

    kvstore: KVConfig = field(default_factory=KVConfig)
    heartbeat_period: float = field(
        default=15.0,
        metadata=setting(
            "Period at which to heartbeat to the ring. 0 = disabled.", kind="duration"
        ),
    )
    heartbeat_timeout: float = field(
        default=60.0,
        metadata=setting(
            "The heartbeat timeout after which instances are considered unhealthy within "
            "the ring. 0 = never (timeout disabled).",
            kind="duration",
        ),
    )
    replication_factor: int = field(
        default=3,
        metadata=setting("The replication factor to use when sharding blocks/series."),
    )
    zone_awareness_enabled: bool = field(
        default=False,
        metadata=setting("True to enable zone-awareness and replicate across zones."),
    )
    num_tokens: int = field(
        default=128, metadata=setting("Number of tokens for each instance.")
    )
    instance_addr: str = field(
        default="",
        metadata=setting("IP address (host:port) to advertise in the ring."),
    )
    unregister_on_shutdown: bool = field(
        default=True,
        metadata=setting("Unregister from the ring upon clean shutdown."),
    )


@dataclass
class JoinedRingConfig(InstanceRingConfig):
    """An instance ring this process registers in: the ring plus its own ID and zone."""

    instance_id: str = field(
        default_factory=socket.gethostname,
        metadata=setting("Instance ID to register in the ring (default: the hostname)."),
    )
    instance_availability_zone: str = field(
        default="",
        metadata=setting("The availability zone where this instance is running."),
    )


def _dashed(name: str) -> str:
    return name.replace("_", "-")


def _with_flag_prefix(
    cls: type, flag_prefix: str, defaults: dict[str, Any], name: str | None = None
) -> type:
    """A dataclass subclass of ``cls`` whose settings' flags start with ``flag_prefix``."""
    hints = typing.get_type_hints(cls)
    specs: list[tuple[str, Any, Any]] = []
    for f in dataclasses.fields(cls):
        ftype = hints[f.name]
        if isinstance(ftype, type) and dataclasses.is_dataclass(ftype):
            # Mimir's flags skip the YAML-only "kvstore" level.
            sub_prefix = flag_prefix if f.name == "kvstore" else f"{flag_prefix}.{_dashed(f.name)}"
            sub = _with_flag_prefix(ftype, sub_prefix, {})
            specs.append((f.name, sub, field(default_factory=sub)))
            continue
        meta = dict(setting_meta(f))
        meta["flag"] = f"{flag_prefix}.{_dashed(f.name)}"
        kwargs: dict[str, Any] = {"metadata": {"tidewell": meta}}
        if f.name in defaults:
            value = defaults[f.name]
            if isinstance(value, list):
                kwargs["default_factory"] = lambda v=value: list(v)
            else:
                kwargs["default"] = value
        elif f.default is not dataclasses.MISSING:
            kwargs["default"] = f.default
        else:
            kwargs["default_factory"] = f.default_factory
        specs.append((f.name, ftype, field(**kwargs)))
    made = dataclasses.make_dataclass(name or cls.__name__, specs, bases=(cls,))
    made.__module__ = __name__
    made._flag_prefix = flag_prefix  # type: ignore[attr-defined]
    return made


def kv_config_type(flag_prefix: str, *, name: str | None = None, **defaults: Any) -> type[KVConfig]:
    """``KVConfig`` with flags ``-<flag_prefix>.store``, ``-<flag_prefix>.etcd.endpoints``…"""
    return _with_flag_prefix(KVConfig, flag_prefix, defaults, name)


def instance_ring_config_type(
    flag_prefix: str, *, name: str | None = None, joined: bool = False, **defaults: Any
) -> type[InstanceRingConfig]:
    """``InstanceRingConfig`` with flags under ``flag_prefix`` and Mimir's per-ring defaults;
    ``joined``: a ``JoinedRingConfig`` (``-<flag_prefix>.instance-id``…), for the
    component that registers in the ring."""
    return _with_flag_prefix(JoinedRingConfig if joined else InstanceRingConfig, flag_prefix,
                             defaults, name)


PartitionRingKVConfig = kv_config_type("ingester.partition-ring", name="PartitionRingKVConfig")
# YAML store_gateway.sharding_ring: Mimir puts each block on 3 store-gateways, 512 tokens each.
StoreGatewayShardingRingConfig = instance_ring_config_type(
    "store-gateway.sharding-ring",
    name="StoreGatewayShardingRingConfig",
    joined=True,
    replication_factor=3,
    num_tokens=512,
)
# YAML ingester.ring (the instance-ring part): 128 tokens, RF 3 as in Mimir.
IngesterInstanceRingConfig = instance_ring_config_type(
    "ingester.ring", name="IngesterInstanceRingConfig", joined=True, replication_factor=3,
    num_tokens=128,
)


@dataclass
class PartitionRingConfig:
    """YAML ``ingester.partition_ring``; flags ``-ingester.partition-ring.*``."""

    kvstore: PartitionRingKVConfig = field(default_factory=PartitionRingKVConfig)  # type: ignore[valid-type]
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

    @property
    def kvstore_store(self) -> str:
        """Kept for callers written before ``kvstore`` became a block."""
        return self.kvstore.store
