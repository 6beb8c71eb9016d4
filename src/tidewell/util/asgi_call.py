"""One HTTP request straight into an in-process ASGI app, as a server would hand it over.

In a single process the ruler asks the query-frontend, and the frontend the querier's
API, through their ASGI apps: the same requests and middleware as over the network,
without a socket. An HTTP client (httpx and its ASGI transport) cost as much CPU as a
small query itself (URL and header objects, cookies, streams), so this builds the ASGI
messages directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from starlette.types import ASGIApp, Message

__all__ = ["AsgiResponse", "asgi_request"]

AsgiResponse = tuple[int, dict[str, str], bytes]
"""Status, response headers (lower-case names; the last of repeated ones) and body."""


async def asgi_request(app: ASGIApp, method: str, path: str, *, query: bytes = b"",
                       headers: Mapping[str, str] | None = None, body: bytes = b"",
                       host: str = "localhost") -> AsgiResponse:
    """``method path?query`` with ``headers`` and ``body`` answered by ``app``."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
        "query_string": query, "root_path": "", "server": (host, 80),
        "client": ("127.0.0.1", 0),
        "headers": [(b"host", host.encode()), (b"content-length", str(len(body)).encode()),
                    *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items())],
    }
    request: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]
    status = 0
    out_headers: dict[str, str] = {}
    parts: list[bytes] = []

    async def receive() -> Message:
        if request:
            return request.pop()
        await asyncio.Event().wait()  # the client stays connected until the answer
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
            for k, v in message.get("headers", ()):
                out_headers[k.decode("latin-1").lower()] = v.decode("latin-1")
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, out_headers, b"".join(parts)
