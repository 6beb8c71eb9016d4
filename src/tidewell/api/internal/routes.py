"""Server side of the internal read protocol: a ``Queryable`` served to remote queriers.

Routes (all POST, protobuf bodies from ``internal.proto``, tenant in ``X-Scope-OrgID``):

* ``/internal/v1/select``       ReadRequest → SelectResponse (series as columns)
* ``/internal/v1/label_names``  ReadRequest → LabelsResponse
* ``/internal/v1/label_values`` ReadRequest (``label_name``) → LabelsResponse
* ``/internal/v1/wait_for_offset`` WaitForOffsetRequest → 200 once the ingester
  consumed up to the offset, 504 when it did not in time, 501 without a waiter.

A request with ``block_ids`` (a querier sharding blocks over store-gateways) is
answered from just those blocks by a component with ``blocks_querier`` (the
store-gateway); the answer lists in ``queried_blocks`` which of them it has and
searched, so the querier can ask another owner for the rest. Other components
answer such a request with 400.

Errors are an ``ErrorResponse``: 400 bad request, 401 no tenant, 422 more series
than ``max_series``, 500 the querier failed. The synchronous ``Querier`` and the
encoding run in a worker thread so the event loop keeps serving; when the
client disconnects the handler stops waiting for that thread (its result is
dropped), so a cancelled query frees its connection and its slot at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from google.protobuf.message import DecodeError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tidewell.model import (
    InvalidTenantIDError,
    Querier,
    Queryable,
    SelectHints,
    SelectLimitError,
    validate_tenant_id,
)
from tidewell.model.errors import TidewellError
from tidewell.protocol.pb import internal_pb2 as pb
from tidewell.querier.remote import CONTENT_TYPE, PATH_PREFIX
from tidewell.querier.wire import decode_matchers, encode_select_response

__all__ = ["ConsistencyWaiter", "internal_query_routes"]

ConsistencyWaiter = Callable[[int, float], Awaitable[None]]
"""``await waiter(end_offset, timeout_s)``: return once consumed, raise TimeoutError if not."""

_log = logging.getLogger("tidewell.api")
T = TypeVar("T")
_CLIENT_CLOSED = 499  # nginx's "client closed request"; nobody reads it


class _HTTPError(TidewellError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error(status: int, message: str) -> Response:
    body = pb.ErrorResponse(message=message).SerializeToString()
    return Response(body, status_code=status, media_type=CONTENT_TYPE)


def _tenant(request: Request) -> str:
    raw = request.headers.get("x-scope-orgid")
    if raw is None:
        raise _HTTPError(401, "no org id")
    try:
        return validate_tenant_id(raw)
    except InvalidTenantIDError as exc:
        raise _HTTPError(400, str(exc)) from exc


async def _read_request(request: Request) -> pb.ReadRequest:
    try:
        return pb.ReadRequest.FromString(await request.body())
    except DecodeError as exc:
        raise _HTTPError(400, f"bad request body: {exc}") from exc


async def _until_disconnect(request: Request, fn: Callable[[], Awaitable[T]]) -> T | None:
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


async def _in_thread_until_disconnect(request: Request, fn: Callable[[], T]) -> T | None:
    """``fn()`` in a worker thread; ``None`` if the client went away first (the thread
    runs on, its result is dropped: a ``Querier`` has no way to be interrupted)."""
    return await _until_disconnect(
        request, lambda: anyio.to_thread.run_sync(fn, abandon_on_cancel=True))


async def _true_after(aw: Awaitable[None]) -> bool:
    await aw
    return True


def internal_query_routes(
    queryable: Queryable,
    *,
    consistency_waiter: ConsistencyWaiter | None = None,
    default_wait_timeout_s: float = 20.0,
) -> list[Route]:
    """Starlette routes serving ``queryable`` (and ``consistency_waiter``) to remote queriers."""

    def handler(run: Callable[[str, pb.ReadRequest], bytes]) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            try:
                tenant = _tenant(request)
                req = await _read_request(request)
                body = await _in_thread_until_disconnect(request, lambda: run(tenant, req))
            except _HTTPError as exc:
                return _error(exc.status, str(exc))
            except Exception as exc:
                _log.exception("internal %s failed", request.url.path)
                return _error(500, f"{type(exc).__name__}: {exc}")
            if body is None:
                return Response(status_code=_CLIENT_CLOSED)
            return Response(body, media_type=CONTENT_TYPE)

        return endpoint

    def matchers_of(req: pb.ReadRequest) -> list[Any]:
        try:
            return decode_matchers(req)
        except ValueError as exc:
            raise _HTTPError(400, f"bad matcher: {exc}") from exc

    def querier_of(tenant: str, req: pb.ReadRequest) -> Querier:
        if not req.block_ids:
            return queryable.querier(tenant, req.mint, req.maxt)
        blocks_querier = getattr(queryable, "blocks_querier", None)
        if blocks_querier is None:
            raise _HTTPError(400, "block_ids given but this component serves no blocks")
        q: Querier = blocks_querier(tenant, req.mint, req.maxt, list(req.block_ids))
        return q

    def queried(q: Querier) -> list[str]:
        return list(getattr(q, "queried_blocks", ()))

    def select(tenant: str, req: pb.ReadRequest) -> bytes:
        matchers = matchers_of(req)
        q = querier_of(tenant, req)
        try:
            series = q.select(matchers, SelectHints(max_series=req.max_series))
        except SelectLimitError:
            raise _HTTPError(422, f"the query hit the max number of series limit "
                             f"(limit: {req.max_series} series)") from None
        if req.max_series > 0 and len(series) > req.max_series:
            raise _HTTPError(422, f"the query hit the max number of series limit "
                             f"(limit: {req.max_series} series)")
        truncated = 0 < req.limit < len(series)
        if truncated:
            series = series[: req.limit]
        return encode_select_response(series, req.encoding, truncated, queried(q))

    def strings(values: list[str], req: pb.ReadRequest, q: Querier) -> bytes:
        truncated = 0 < req.limit < len(values)
        if truncated:
            values = values[: req.limit]
        return pb.LabelsResponse(values=values, truncated=truncated,
                                 queried_blocks=queried(q)).SerializeToString()

    def label_names(tenant: str, req: pb.ReadRequest) -> bytes:
        q = querier_of(tenant, req)
        return strings(q.label_names(matchers_of(req)), req, q)

    def label_values(tenant: str, req: pb.ReadRequest) -> bytes:
        if not req.label_name:
            raise _HTTPError(400, "label_values needs a label_name")
        q = querier_of(tenant, req)
        return strings(q.label_values(req.label_name, matchers_of(req)), req, q)

    async def wait_for_offset(request: Request) -> Response:
        if consistency_waiter is None:
            return _error(501, "this component consumes no partition")
        try:
            req = pb.WaitForOffsetRequest.FromString(await request.body())
        except DecodeError as exc:
            return _error(400, f"bad request body: {exc}")
        timeout = req.timeout_seconds if req.timeout_seconds > 0 else default_wait_timeout_s
        try:
            done = await _until_disconnect(
                request, lambda: _true_after(consistency_waiter(req.end_offset, timeout)))
        except TimeoutError as exc:
            return _error(504, str(exc) or f"not caught up to offset {req.end_offset} "
                          f"within {timeout}s")
        except Exception as exc:
            _log.exception("wait_for_offset failed")
            return _error(503, f"{type(exc).__name__}: {exc}")
        if done is None:
            return Response(status_code=_CLIENT_CLOSED)
        return Response(b"", media_type=CONTENT_TYPE)

    def route(op: str, endpoint: Callable[..., Any]) -> Route:
        return Route(f"{PATH_PREFIX}{op}", endpoint, methods=["POST"])

    return [
        route("select", handler(select)),
        route("label_names", handler(label_names)),
        route("label_values", handler(label_values)),
        route("wait_for_offset", wait_for_offset),
    ]
