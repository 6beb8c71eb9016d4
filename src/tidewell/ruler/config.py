"""Mimir's ``ruler`` and ``ruler_storage`` blocks: ``-ruler.*`` and ``-ruler-storage.*`` flags.

``ruler_storage`` is a bucket (every backend of ``-blocks-storage.*``) plus Mimir's
``local`` backend: rule files read, never written, from
``<-ruler-storage.local.directory>/<tenant>/<namespace file>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tidewell.model.errors import TidewellError
from tidewell.objstore.config import BACKENDS, BucketConfig
from tidewell.ring.config import instance_ring_config_type
from tidewell.util.config_fields import setting

__all__ = ["RULER_STORAGE_BACKENDS", "InvalidRulerConfigError", "RulerConfig", "RulerRingConfig",
           "RulerStorageConfig"]

RULER_STORAGE_BACKENDS = (*BACKENDS, "local")


class InvalidRulerConfigError(TidewellError, ValueError):
    """A ``ruler`` or ``ruler_storage`` setting is unusable; the message names the flag."""


@dataclass
class LocalRuleStoreConfig:
    directory: str = field(
        default="",
        metadata=setting("Directory to scan for rules (one sub-directory per tenant, one file "
                         "per namespace).", flag="ruler-storage.local.directory"),
    )


@dataclass
class RulerStorageConfig(BucketConfig):
    """Where rule groups live: a bucket under ``rules/<tenant>/…``, or a local directory."""

    backend: str = field(
        default="filesystem",
        metadata=setting("Backend storage to use. Supported backends are: filesystem, s3, gcs, "
                         "azure, memory, local (read-only rule files).",
                         choices=RULER_STORAGE_BACKENDS),
    )
    local: LocalRuleStoreConfig = field(default_factory=LocalRuleStoreConfig)

    def validate(self, flag_prefix: str = "ruler-storage.") -> None:
        if self.backend == "local":
            if not self.local.directory:
                raise InvalidRulerConfigError(
                    "invalid -ruler-storage.local.directory: must be set when the backend is "
                    "local")
            return
        super().validate(flag_prefix)


# YAML ruler.ring, flags -ruler.ring.*: each rule group has one owner (Mimir: 128 tokens).
RulerRingConfig = instance_ring_config_type(
    "ruler.ring", name="RulerRingConfig", joined=True, replication_factor=1, num_tokens=128,
)


@dataclass
class RulerQueryFrontendConfig:
    address: str = field(
        default="",
        metadata=setting("URL of the query-frontend the ruler evaluates rules through "
                         "(http://host:port). Empty: the query-frontend of this process.",
                         flag="ruler.query-frontend.address"),
    )
    timeout: float = field(
        default=120.0,
        metadata=setting("The timeout for a rule query being evaluated by the query-frontend.",
                         flag="ruler.query-frontend.timeout", kind="duration"),
    )


@dataclass
class RulerConfig:
    evaluation_interval: float = field(
        default=60.0,
        metadata=setting("How frequently to evaluate rules by default.",
                         flag="ruler.evaluation-interval", kind="duration"),
    )
    poll_interval: float = field(
        default=60.0,
        metadata=setting("How frequently to poll for updated rules.",
                         flag="ruler.poll-interval", kind="duration"),
    )
    query_frontend: RulerQueryFrontendConfig = field(default_factory=RulerQueryFrontendConfig)
    alertmanager_url: str = field(
        default="",
        metadata=setting("Comma-separated list of URL(s) of the Alertmanager(s) to send "
                         "notifications to.", flag="ruler.alertmanager-url"),
    )
    notification_queue_capacity: int = field(
        default=10000,
        metadata=setting("Capacity of the queue for notifications to be sent to the "
                         "Alertmanager.", flag="ruler.notification-queue-capacity"),
    )
    notification_timeout: float = field(
        default=10.0,
        metadata=setting("HTTP timeout duration when sending notifications to the "
                         "Alertmanager.", flag="ruler.notification-timeout", kind="duration"),
    )
    for_outage_tolerance: float = field(
        default=3600.0,
        metadata=setting("Max time to tolerate outage for restoring \"for\" state of alert.",
                         flag="ruler.for-outage-tolerance", kind="duration"),
    )
    for_grace_period: float = field(
        default=120.0,
        metadata=setting("Minimum duration between alert and restored \"for\" state. This is "
                         "maintained only for alerts with configured \"for\" time greater than "
                         "the grace period.", flag="ruler.for-grace-period", kind="duration"),
    )
    resend_delay: float = field(
        default=60.0,
        metadata=setting("Minimum amount of time to wait before resending an alert to "
                         "Alertmanager.", flag="ruler.resend-delay", kind="duration"),
    )
    external_url: str = field(
        default="",
        metadata=setting("URL of alerts return path (the generatorURL of alerts sent to the "
                         "Alertmanager, and $externalURL in templates).",
                         flag="ruler.external.url"),
    )
    enable_api: bool = field(
        default=True,
        metadata=setting("Enable the ruler config API.", flag="ruler.enable-api"),
    )
    ring: RulerRingConfig = field(default_factory=RulerRingConfig)  # type: ignore[valid-type]

    def validate(self) -> None:
        for flag, value in (("ruler.evaluation-interval", self.evaluation_interval),
                            ("ruler.poll-interval", self.poll_interval)):
            if value <= 0:
                raise InvalidRulerConfigError(f"invalid -{flag}: must be positive")
        for url in filter(None, (self.query_frontend.address, *self.alertmanager_urls())):
            if not url.startswith(("http://", "https://")):
                raise InvalidRulerConfigError(
                    f"invalid URL {url!r} in a -ruler.* address: must start with http:// or "
                    "https://")

    def alertmanager_urls(self) -> list[str]:
        return [u.strip().rstrip("/") for u in self.alertmanager_url.split(",") if u.strip()]
