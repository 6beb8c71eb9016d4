"""Distributor settings (YAML ``distributor``), Mimir's names and defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from tidewell.util.config_fields import InvalidValueError, setting

__all__ = ["DistributorConfig", "InstanceLimitsConfig"]


@dataclass
class InstanceLimitsConfig:
    """Mimir's ``distributor.instance_limits``: bounds of one distributor, all tenants together."""

    max_inflight_push_requests: int = field(
        default=2000,
        metadata=setting(
            "Max inflight push requests that this distributor can handle. This limit is "
            "per-distributor, not per-tenant. Additional requests will be rejected with 503. "
            "0 = unlimited."
        ),
    )
    max_inflight_push_requests_bytes: int = field(
        default=0,
        metadata=setting(
            "The sum of the request sizes in bytes of inflight push requests that this "
            "distributor can handle. This limit is per-distributor, not per-tenant. Additional "
            "requests will be rejected with 503. 0 = unlimited."
        ),
    )


@dataclass
class DistributorConfig:
    max_recv_msg_size: int = field(
        default=100 << 20,
        metadata=setting(
            "Max message size in bytes that the distributors will accept for incoming push "
            "requests to the remote write API. If exceeded, the request will be rejected.",
            flag="distributor.max-recv-msg-size",
        ),
    )
    max_otlp_request_size: int = field(
        default=100 << 20,
        metadata=setting(
            "Maximum OTLP request size in bytes that the distributors accept. Requests exceeding "
            "this limit are rejected.",
            flag="distributor.max-otlp-request-size",
        ),
    )
    instance_limits: InstanceLimitsConfig = field(default_factory=InstanceLimitsConfig)
    max_error_messages: int = field(
        default=10,
        metadata=setting(
            "How many per-series validation errors a 400 response names (the rest are counted).",
            flag="distributor.max-error-messages",
        ),
    )
    appendable_floors_poll_interval: float = field(
        default=5.0,
        metadata=setting(
            "How often a distributor whose ingesters run in other processes polls every "
            "partition owner's appendable floors (GET /ingester/appendable-floors). Series "
            "whose samples are all older than their partition's floor are refused with 400; "
            "a longer interval refuses less (older floors), never more. Tidewell-specific.",
            flag="distributor.appendable-floors-poll-interval",
            kind="duration",
        ),
    )

    def validate(self) -> None:
        if self.appendable_floors_poll_interval <= 0:
            raise InvalidValueError(
                "invalid value for -distributor.appendable-floors-poll-interval: must be > 0")
