"""Mimir's ``store_gateway`` block: how a store-gateway joins its ring."""

from __future__ import annotations

from dataclasses import dataclass, field

from tidewell.ring.config import StoreGatewayShardingRingConfig


@dataclass
class StoreGatewayConfig:
    sharding_ring: StoreGatewayShardingRingConfig = field(  # type: ignore[valid-type]
        default_factory=StoreGatewayShardingRingConfig
    )
