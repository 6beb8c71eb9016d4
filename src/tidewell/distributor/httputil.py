"""Small HTTP helpers shared by the push endpoints."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from tidewell.protocol.errors import ProtocolError

log = logging.getLogger("tidewell.distributor")


def media_type(header: str) -> tuple[str, dict[str, str]]:
    parts = [p.strip() for p in header.split(";")]
    params = {}
    for p in parts[1:]:
        if "=" in p:
            k, v = p.split("=", 1)
            params[k.strip().lower()] = v.strip().strip('"')
    return parts[0].lower(), params


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(limit, int(declared))
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(limit, size)
        chunks.append(chunk)
    return b"".join(chunks)


class BodyTooLargeError(ProtocolError):
    status = 413

    def __init__(self, limit: int, size: int) -> None:
        super().__init__(
            f"the incoming push request has been rejected because its message size of at least "
            f"{size} bytes is larger than the allowed limit of {limit} bytes "
            "(err-mimir-distributor-max-write-message-size). To adjust the related limit, "
            "configure -distributor.max-recv-msg-size, or contact your service administrator."
        )


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    if status >= 500:
        log.warning("push failed status=%d err=%s", status, message)
    return PlainTextResponse(message + "\n", status_code=status, headers=headers)


def request_tenant(request: Request) -> str | None:
    return getattr(request.state, "tenant", None)
