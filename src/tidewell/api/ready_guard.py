"""Keep a component's internal API closed until the component is ready."""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send


class ReadyGuard:
    """Answers 503 on internal query routes until ``ready()`` says so.

    A restarted ingester may still be in the ring from before it died; while it
    replays, its partial data must not be served, so queriers move to a replica.
    """

    def __init__(self, app: ASGIApp, ready: Callable[[], tuple[bool, str]]) -> None:
        self.app = app
        self.ready = ready

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/internal/"):
            ok, reason = self.ready()
            if not ok:
                body = f"not ready: {reason}".encode()
                await send({"type": "http.response.start", "status": 503,
                            "headers": [(b"content-type", b"text/plain")]})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
