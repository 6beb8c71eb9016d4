"""HTTP connection deadlines and a connection cap, as Go's ``http.Server`` gives Mimir.

uvicorn alone never closes a connection that sends nothing or stops halfway
through a request, so idle and half-sent sockets pile up until file descriptors
run out and ``/ready`` stops answering. This protocol adds Go's three deadlines
(``-server.http-read-timeout`` for a whole request from its first byte,
``-server.http-write-timeout`` from the end of the request headers to the end of
the response, ``-server.http-idle-timeout`` between requests) and a cap on open
connections: at the cap a new connection first evicts the least recently active
connection that is not being answered (idle, or still sending its request), so
the process keeps serving; only when every connection is busy is the new one
refused with a 503. Request headers are capped at Go's 1 MiB (431 beyond).
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["ConnectionLimits", "default_connection_limit", "guarded_protocol"]

log = logging.getLogger("tidewell.server")

TCP_CONNECTIONS = Gauge("cortex_tcp_connections",
                        "Current number of accepted TCP connections.", ["protocol"])
TCP_CONNECTIONS_LIMIT = Gauge("cortex_tcp_connections_limit",
                              "The max number of TCP connections that can be accepted "
                              "(0 means no limit).", ["protocol"])
CLOSED = Counter("tidewell_http_connections_closed_total",
                 "HTTP connections the server closed or refused, by reason.", ["reason"])

MAX_HEADER_BYTES = 1 << 20
"""Go's ``http.DefaultMaxHeaderBytes``: request line and headers larger than this get 431."""
_READ_CHUNK = 256 * 1024  # what asyncio hands ``data_received`` at most


def _plain_response(status: str, text: str) -> bytes:
    body = text.encode()
    return (f"HTTP/1.1 {status}\r\nConnection: close\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


_HEADERS_TOO_LARGE = _plain_response("431 Request Header Fields Too Large",
                                     "request header fields too large\n")
_REFUSED = _plain_response("503 Service Unavailable",
                           "too many open connections, every one is busy\n")


def default_connection_limit() -> int:
    """Three quarters of the open-file limit: the rest stays for WAL, blocks and peers."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 65_536
    return max(64, soft * 3 // 4)


@dataclass(frozen=True)
class ConnectionLimits:
    """Deadlines in seconds (0 disables one) and the cap on open connections."""

    read_timeout: float
    write_timeout: float
    idle_timeout: float
    max_connections: int


class _Registry:
    """Open connections of one server, least recently active first."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.open: OrderedDict[GuardedProtocol, None] = OrderedDict()
        TCP_CONNECTIONS_LIMIT.labels("http").set(limits.max_connections)

    def admit(self, conn: GuardedProtocol) -> bool:
        """Register ``conn``; at the cap evict an unbusy connection or refuse ``conn``."""
        if len(self.open) >= self.limits.max_connections:
            victim = next((c for c in self.open if not c.busy), None)
            if victim is None:
                CLOSED.labels("refused-all-busy").inc()
                return False
            self.forget(victim)
            victim.close("evicted-at-cap")
        self.open[conn] = None
        TCP_CONNECTIONS.labels("http").set(len(self.open))
        return True

    def touch(self, conn: GuardedProtocol) -> None:
        if conn in self.open:
            self.open.move_to_end(conn)

    def forget(self, conn: GuardedProtocol) -> None:
        self.open.pop(conn, None)
        TCP_CONNECTIONS.labels("http").set(len(self.open))


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with Go's read/write/idle deadlines and the cap."""

    registry: _Registry

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.busy = False  # a complete request is being answered
        self._in_headers = True  # reading a request line and headers
        self._header_bytes = 0
        self._read_deadline: asyncio.TimerHandle | None = None
        self._write_deadline: asyncio.TimerHandle | None = None

    # connection lifecycle
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self.registry.admit(self):
            log.warning("refused HTTP connection: every open connection is busy",
                        extra={"fields": {"limit": self.registry.limits.max_connections}})
            transport.write(_REFUSED)
            transport.close()
            return
        self._arm_read()  # Go: the first request's read deadline runs from accept

    def connection_lost(self, exc: Exception | None) -> None:
        self.registry.forget(self)
        self._cancel_read()
        self._cancel_write()
        super().connection_lost(exc)

    def close(self, reason: str) -> None:
        """Close the connection now (a deadline passed or the cap needs room)."""
        self._cancel_read()
        self._cancel_write()
        if not self.transport.is_closing():
            CLOSED.labels(reason).inc()
            log.debug("closing HTTP connection", extra={"fields": {"reason": reason,
                                                                    "client": self.client}})
            self.transport.close()

    # request lifecycle
    def data_received(self, data: bytes) -> None:
        if not self.busy and self._read_deadline is None:
            self._arm_read()  # first bytes after idle: the read deadline starts now
        self.registry.touch(self)
        if self._in_headers:
            self._header_bytes += len(data)
            if self._header_bytes > MAX_HEADER_BYTES + _READ_CHUNK:  # a chunk may carry body too
                self.transport.write(_HEADERS_TOO_LARGE)
                self.close("headers-too-large")
                return
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers = True

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._header_bytes = 0
        super().on_headers_complete()
        if self.limits.write_timeout > 0 and self._write_deadline is None:
            self._write_deadline = self.loop.call_later(
                self.limits.write_timeout, self.close, "write-timeout")

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._cancel_read()
        self.busy = True

    def on_response_complete(self) -> None:
        self._cancel_write()
        self.busy = False
        self.registry.touch(self)
        super().on_response_complete()  # arms uvicorn's keep-alive (= idle) timeout

    # deadlines
    @property
    def limits(self) -> ConnectionLimits:
        return self.registry.limits

    def _arm_read(self) -> None:
        self._cancel_read()
        if self.limits.read_timeout > 0:
            self._read_deadline = self.loop.call_later(
                self.limits.read_timeout, self.close, "read-timeout")

    def _cancel_read(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _cancel_write(self) -> None:
        if self._write_deadline is not None:
            self._write_deadline.cancel()
            self._write_deadline = None


def guarded_protocol(limits: ConnectionLimits) -> type[GuardedProtocol]:
    """A protocol class for one server: its connections share one registry."""
    return type("GuardedProtocol", (GuardedProtocol,), {"registry": _Registry(limits)})
