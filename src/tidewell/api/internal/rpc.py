"""What every internal route shares: the tenant header, ``ErrorResponse`` errors, and
work run in a worker thread that a client's disconnect abandons.

The synchronous work (a ``Querier``, a head's statistics) and its encoding run in
a worker thread so the event loop keeps serving; when the client disconnects the
handler stops waiting for that thread (its result is dropped), so a cancelled
request frees its connection and its slot at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tidewell.model import InvalidTenantIDError, validate_tenant_id
from tidewell.model.errors import TidewellError
from tidewell.protocol.pb import internal_pb2 as pb
from tidewell.querier.remote import CONTENT_TYPE, PATH_PREFIX

__all__ = [
    "CLIENT_CLOSED",
    "RPCError",
    "error_response",
    "rpc_route",
    "tenant_of",
    "until_disconnect",
]

_log = logging.getLogger("tidewell.api")
T = TypeVar("T")
CLIENT_CLOSED = 499
"""nginx's "client closed request": the status of an answer nobody reads."""


class RPCError(TidewellError):
    """A request the route refuses, with the HTTP status that says why (``found``:
    the ``ErrorResponse`` fields of a select refused at its samples hint)."""

    def __init__(self, status: int, message: str, **found: int) -> None:
        super().__init__(message)
        self.status = status
        self.found = found


def error_response(status: int, message: str, **found: int) -> Response:
    """An ``ErrorResponse`` body with ``status`` (``found``: its ``found_*`` fields)."""
    body = pb.ErrorResponse(message=message, **found).SerializeToString()
    return Response(body, status_code=status, media_type=CONTENT_TYPE)


def tenant_of(request: Request) -> str:
    """The validated ``X-Scope-OrgID`` (401 without one, 400 when invalid)."""
    raw = request.headers.get("x-scope-orgid")
    if raw is None:
        raise RPCError(401, "no org id")
    try:
        return validate_tenant_id(raw)
    except InvalidTenantIDError as exc:
        raise RPCError(400, str(exc)) from exc


async def until_disconnect(request: Request, fn: Callable[[], Awaitable[T]]) -> T | None:
    """``await fn()``, or ``None`` as soon as the client goes away (``fn`` is cancelled)."""
    result: list[T] = []
    failed: list[Exception] = []
    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            while True:
                message = await request.receive()
                if message["type"] == "http.disconnect":
                    tg.cancel_scope.cancel()
                    return

        async def work() -> None:
            try:
                result.append(await fn())
            except Exception as exc:  # re-raised below, not as an ExceptionGroup
                failed.append(exc)
            tg.cancel_scope.cancel()

        tg.start_soon(watch)
        tg.start_soon(work)
    if failed:
        raise failed[0]
    return result[0] if result else None


def rpc_route(op: str, run: Callable[[str, T], bytes], read: Callable[[bytes], T],
              statuses: Mapping[type[Exception], int] | None = None) -> Route:
    """``POST PATH_PREFIX + op``: ``run(tenant, read(body))`` in a worker thread, its
    bytes the answer. An ``RPCError`` answers with its status, an exception of a type
    in ``statuses`` with that status, any other 500 (logged)."""

    async def endpoint(request: Request) -> Response:
        try:
            tenant = tenant_of(request)
            req = read(await request.body())
            out = await until_disconnect(
                request, lambda: anyio.to_thread.run_sync(lambda: run(tenant, req),
                                                          abandon_on_cancel=True))
        except RPCError as exc:
            return error_response(exc.status, str(exc), **exc.found)
        except Exception as exc:
            status = next((s for t, s in (statuses or {}).items() if isinstance(exc, t)), 500)
            if status == 500:
                _log.exception("internal %s failed", request.url.path)
                return error_response(500, f"{type(exc).__name__}: {exc}")
            return error_response(status, str(exc))
        if out is None:
            return Response(status_code=CLIENT_CLOSED)
        return Response(out, media_type=CONTENT_TYPE)

    return Route(f"{PATH_PREFIX}{op}", endpoint, methods=["POST"])
