"""Strong read consistency: hold a query until ingesters consumed what was acknowledged.

``X-Read-Consistency: strong`` (or a tenant whose default is strong) makes the
querier ask the log for the end offset of each partition and wait until the
owning ingesters consumed up to it, bounded by a timeout, so a sample whose
push was acknowledged before the query started is always visible.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("tidewell.querier")

HEADER = b"x-read-consistency"
STRONG = "strong"
EVENTUAL = "eventual"

WaitForConsistency = Callable[[str], Awaitable[None]]
"""Given a tenant, return once every partition it uses is caught up; raise on timeout."""


class ReadConsistencyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        wait: WaitForConsistency,
        default_level: Callable[[str], str],
        path_prefix: str = "/prometheus/api/v1/",
    ) -> None:
        self.app = app
        self.wait = wait
        self.default_level = default_level
        self.path_prefix = path_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.path_prefix):
            tenant = scope.get("state", {}).get("tenant")
            if tenant is not None:
                raw = next((v for k, v in scope["headers"] if k == HEADER), None)
                level = raw.decode().strip().lower() if raw else self.default_level(tenant)
                if level == STRONG and not await self._waited(tenant, send):
                    return
        await self.app(scope, receive, send)

    async def _waited(self, tenant: str, send: Send) -> bool:
        """Wait for consistency; on failure answer the client and return False."""
        try:
            await self.wait(tenant)
            return True
        except Exception as exc:
            timeout = isinstance(exc, TimeoutError)
            log.warning("strong read consistency failed",
                        extra={"fields": {"tenant": tenant, "err": str(exc)}})
            body = json.dumps({
                "status": "error",
                "errorType": "timeout" if timeout else "unavailable",
                "error": f"strong read consistency: {exc}",
            }).encode()
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
            return False
