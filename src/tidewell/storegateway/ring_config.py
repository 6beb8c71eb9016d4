"""Mimir's ``store_gateway`` block: how a store-gateway joins its ring."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from tidewell.ring.config import StoreGatewayShardingRingConfig
from tidewell.util.config_fields import setting


@dataclass
class StoreGatewayRingConfig(StoreGatewayShardingRingConfig):  # type: ignore[valid-type,misc]
    instance_id: str = field(
        default_factory=socket.gethostname,
        metadata=setting(
            "Instance ID to register in the store-gateway ring (default: the hostname).",
            flag="store-gateway.sharding-ring.instance-id",
        ),
    )
    instance_availability_zone: str = field(
        default="",
        metadata=setting(
            "The availability zone where this instance is running.",
            flag="store-gateway.sharding-ring.instance-availability-zone",
        ),
    )


@dataclass
class StoreGatewayConfig:
    sharding_ring: StoreGatewayRingConfig = field(default_factory=StoreGatewayRingConfig)
