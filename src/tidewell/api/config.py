"""HTTP server and logging settings (Mimir's ``server`` block)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tidewell.util.config_fields import setting

LOG_LEVELS = ("debug", "info", "warn", "error")
LOG_FORMATS = ("logfmt", "json")


@dataclass
class ServerConfig:
    http_listen_address: str = field(
        default="", metadata=setting("HTTP server listen address (empty: all interfaces).")
    )
    http_listen_port: int = field(default=8080, metadata=setting("HTTP server listen port."))
    graceful_shutdown_timeout: float = field(
        default=30.0,
        metadata=setting("Time to wait for in-flight work to finish on shutdown.", kind="duration"),
    )
    log_level: str = field(
        default="info",
        metadata=setting(
            "Only log messages with the given severity or above.",
            flag="log.level",
            choices=LOG_LEVELS,
        ),
    )
    log_format: str = field(
        default="logfmt",
        metadata=setting(
            "Output log messages in the given format.", flag="log.format", choices=LOG_FORMATS
        ),
    )
