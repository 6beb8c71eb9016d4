"""The HTTP server: one Starlette app per process, served by uvicorn.

Components contribute route lists; this module only stacks them with the
tenant middleware, so no component knows it shares a port with others.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from tidewell.api.config import ServerConfig
from tidewell.api.tenant import TenantMiddleware

log = logging.getLogger("tidewell.server")


def build_app(
    routes: list[BaseRoute],
    *,
    multitenancy_enabled: bool,
    middlewares: Sequence[Callable[[ASGIApp], ASGIApp]] = (),
) -> ASGIApp:
    """The process's ASGI app; ``middlewares`` run after the tenant is known."""
    app: ASGIApp = Starlette(routes=routes)
    for wrap in reversed(middlewares):
        app = wrap(app)
    return TenantMiddleware(app, multitenancy_enabled=multitenancy_enabled)


class HTTPServer:
    """uvicorn in the current event loop, started and stopped like any other service."""

    def __init__(self, app: ASGIApp, config: ServerConfig) -> None:
        host = config.http_listen_address or "0.0.0.0"
        self._server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=host,
                port=config.http_listen_port,
                log_config=None,
                access_log=False,
                lifespan="off",
                timeout_graceful_shutdown=int(config.graceful_shutdown_timeout),
            )
        )
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # re-raise bind errors
                raise RuntimeError("HTTP server exited during startup")
            await asyncio.sleep(0.01)
        log.info(
            "server listening",
            extra={"fields": {"addr": f"{self._server.config.host}:{self._server.config.port}"}},
        )

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
