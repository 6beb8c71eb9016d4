"""Graceful drain of the HTTP server on shutdown, as Go's ``http.Server.Shutdown`` gives Mimir.

Without it the server stopped last, after the modules: requests kept arriving at a
query-frontend and queriers already stopped, and those in flight ended only when
uvicorn's graceful timeout cancelled them (30 s under 30 query loops). The gate
counts the requests in flight; once draining it answers any new request with a
503 (``Connection: close``), waits up to ``-server.graceful-shutdown-timeout`` for
those in flight and then cuts the rest, answering 503 to those that sent nothing yet.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tidewell.api.asgi_errors import send_error

__all__ = ["DrainGate"]

REFUSED = "the server is shutting down"
CUT = ("the server is shutting down: the request did not finish within "
       "-server.graceful-shutdown-timeout")
CUT_WAIT_S = 1.0
"""How long the cut requests get to send their 503 (they only write a small body)."""


class DrainGate:
    """ASGI middleware that tracks HTTP requests in flight and drains them on shutdown."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.draining = False
        self._inflight: set[asyncio.Task[object]] = set()
        self._cut: set[asyncio.Task[object]] = set()

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.draining:
            await send_error(send, 503, "unavailable", REFUSED, close=True)
            return
        task = asyncio.current_task()
        assert task is not None
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        self._inflight.add(task)
        try:
            await self.app(scope, receive, tracked)
        except asyncio.CancelledError:
            if task not in self._cut:
                raise
            task.uncancel()
            if not started:
                await send_error(send, 503, "unavailable", CUT, close=True)
        finally:
            self._inflight.discard(task)
            self._cut.discard(task)

    async def drain(self, timeout_s: float) -> int:
        """Refuse new requests, wait up to ``timeout_s`` for those in flight, cut the rest.

        Returns how many requests were cut.
        """
        self.draining = True
        pending = set(self._inflight)
        if pending:
            _, pending = await asyncio.wait(pending, timeout=timeout_s)
        for task in pending:
            self._cut.add(task)
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=CUT_WAIT_S)
        return len(pending)
