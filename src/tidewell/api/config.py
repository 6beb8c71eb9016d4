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
    http_server_read_timeout: float = field(
        default=30.0,
        metadata=setting(
            "Read timeout for an entire HTTP request, headers and body, from its first byte "
            "(a new connection's from its accept). 0 disables it.",
            flag="server.http-read-timeout",
            kind="duration",
        ),
    )
    http_server_write_timeout: float = field(
        default=120.0,
        metadata=setting(
            "Write timeout for HTTP server: from the end of a request's headers to the end of "
            "its response; the connection is closed after it. 0 disables it.",
            flag="server.http-write-timeout",
            kind="duration",
        ),
    )
    http_server_idle_timeout: float = field(
        default=120.0,
        metadata=setting(
            "Idle timeout for HTTP server: how long a keep-alive connection may wait for its "
            "next request (0: the read timeout).",
            flag="server.http-idle-timeout",
            kind="duration",
        ),
    )
    http_listen_conn_limit: int = field(
        default=0,
        metadata=setting(
            "Maximum number of simultaneous HTTP connections (0: three quarters of the "
            "open-file limit). At the limit a new connection closes the least recently "
            "active idle or half-sent one; only if all are busy is it refused with 503.",
            flag="server.http-conn-limit",
        ),
    )
