"""The HTTP server: one Starlette app per process, served by uvicorn.

Components contribute route lists; this module only stacks them with the
tenant middleware, so no component knows it shares a port with others.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable, Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from tidewell.api.config import ServerConfig
from tidewell.api.connections import ConnectionLimits, default_connection_limit, guarded_protocol
from tidewell.api.tenant import ANONYMOUS, TenantMiddleware

log = logging.getLogger("tidewell.server")


def build_app(
    routes: list[BaseRoute],
    *,
    multitenancy_enabled: bool,
    no_auth_tenant: str = ANONYMOUS,
    middlewares: Sequence[Callable[[ASGIApp], ASGIApp]] = (),
) -> ASGIApp:
    """The process's ASGI app; ``middlewares`` run after the tenant is known."""
    app: ASGIApp = Starlette(routes=routes)
    for wrap in reversed(middlewares):
        app = wrap(app)
    return TenantMiddleware(app, multitenancy_enabled=multitenancy_enabled,
                            no_auth_tenant=no_auth_tenant)


class ListenError(Exception):
    """The HTTP port cannot be bound; startup ends with this one-line reason."""


def connection_limits(config: ServerConfig) -> ConnectionLimits:
    """Mimir's server timeouts and connection cap, with Go's fallbacks for zero values."""
    idle = config.http_server_idle_timeout or config.http_server_read_timeout
    return ConnectionLimits(
        read_timeout=config.http_server_read_timeout,
        write_timeout=config.http_server_write_timeout,
        idle_timeout=idle,
        max_connections=config.http_listen_conn_limit or default_connection_limit(),
    )


def _listen(host: str, port: int, backlog: int) -> socket.socket:
    """The listening socket, created with ``IPPROTO_TCP`` as its protocol.

    asyncio sets ``TCP_NODELAY`` on an accepted socket only when its ``proto`` says TCP;
    a socket made with proto 0 (the default) leaves Nagle on, so a response written in
    two sends (uvicorn writes headers, then the body) waits for the client's delayed ACK:
    ~44 ms for a GET right after a POST on a keep-alive connection.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise ListenError(f"cannot listen on {host}:{port}: {reason}") from None
    sock.setblocking(False)
    return sock


class HTTPServer:
    """uvicorn in the current event loop, started and stopped like any other service.

    Connections get Go's read/write/idle deadlines and a cap (``api.connections``).
    """

    def __init__(self, app: ASGIApp, config: ServerConfig) -> None:
        self._host = config.http_listen_address or "0.0.0.0"
        self._port = config.http_listen_port
        limits = connection_limits(config)
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=self._host,
                port=self._port,
                http=guarded_protocol(limits),
                timeout_keep_alive=limits.idle_timeout or 1e9,  # type: ignore[arg-type]
                log_config=None,
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=int(config.graceful_shutdown_timeout),
            )
        )
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        sock = _listen(self._host, self._port, self._server.config.backlog)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("HTTP server exited during startup")
            await asyncio.sleep(0.01)
        log.info("server listening", extra={"fields": {"addr": f"{self._host}:{self._port}"}})

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
