"""The HTTP server: one Starlette app per process, served by uvicorn.

Components contribute route lists; this module only stacks them with the
tenant middleware, so no component knows it shares a port with others.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Callable, Iterator, Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from tidewell.api.config import ServerConfig
from tidewell.api.connections import ConnectionLimits, default_connection_limit, guarded_protocol
from tidewell.api.drain import DrainGate
from tidewell.api.tenant import ANONYMOUS, TenantMiddleware
from tidewell.model.errors import TidewellError

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


class ListenError(TidewellError):
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


ACCEPT_SETTLE_TURNS = 3
"""Loop turns from the last accept to ``connection_made`` (task step, transport, callback)."""


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handling: the process's shutdown order is ours."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HTTPServer:
    """uvicorn in the current event loop, started and stopped like any other service.

    Connections get Go's read/write/idle deadlines and a cap (``api.connections``).
    On shutdown it drains before any module stops (``api.drain``): the listener
    closes, idle keep-alive connections close, busy ones answer with
    ``Connection: close``, and requests in flight get ``-server.graceful-shutdown-timeout``
    to finish.
    """

    def __init__(self, app: ASGIApp, config: ServerConfig) -> None:
        self._host = config.http_listen_address or "0.0.0.0"
        self._port = config.http_listen_port
        self._graceful_s = config.graceful_shutdown_timeout
        self.gate = DrainGate(app)
        limits = connection_limits(config)
        self._server = _Uvicorn(
            uvicorn.Config(
                self.gate,
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

    async def drain(self) -> None:
        """Take no more requests; let those in flight finish within the graceful timeout."""
        loop = asyncio.get_running_loop()
        for server in self._server.servers:
            for sock in server.sockets:
                loop.remove_reader(sock.fileno())  # no more accepts
        self.gate.draining = True  # a request from now on: 503 and ``Connection: close``
        for conn in list(self._server.server_state.connections):
            conn.shutdown()  # idle: closed now; busy: closed after its response
        await self._close_listeners()
        in_flight = self.gate.in_flight
        cut = await self.gate.drain(self._graceful_s)
        log.info("server drained", extra={"fields": {"in_flight": in_flight, "cut": cut}})

    async def _close_listeners(self) -> None:
        """Once accepts stopped: let the connections accepted a moment ago get their
        transports, then close the listening sockets (the kernel resets the backlog).

        Closing the asyncio server at once would strand the connections accepted in the
        same loop turn: their transports fail to attach to a closed server, silently,
        and their clients wait for an answer that never comes. Those that attach now
        get the gate's 503 with ``Connection: close``.
        """
        for _ in range(ACCEPT_SETTLE_TURNS):
            await asyncio.sleep(0)
        for server in self._server.servers:
            server.close()

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
