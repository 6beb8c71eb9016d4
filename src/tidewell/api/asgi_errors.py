"""A Prometheus-style JSON error written straight to an ASGI ``send``.

For the pure-ASGI middlewares that answer before any route runs (tenant
resolution, the shutdown drain): no request or response object on those paths.
"""

from __future__ import annotations

import json

from starlette.types import Send

__all__ = ["send_error"]


async def send_error(send: Send, status: int, error_type: str, message: str, *,
                     close: bool = False) -> None:
    """``{"status": "error", "errorType": ..., "error": ...}`` with ``status``;
    ``close`` asks the client to drop the connection after it."""
    body = json.dumps({"status": "error", "errorType": error_type, "error": message}).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
