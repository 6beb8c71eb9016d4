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
than ``max_series`` or more samples than ``max_samples`` (then ``found_series`` and
``found_samples`` say what the source counted before decoding), 500 the querier
failed. The ``Querier`` runs in a worker thread that a client's disconnect abandons
(``rpc``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from google.protobuf.message import DecodeError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tidewell.api.internal.rpc import (
    CLIENT_CLOSED,
    RPCError,
    error_response,
    rpc_route,
    until_disconnect,
)
from tidewell.model import Querier, Queryable, SelectHints, SelectLimitError
from tidewell.protocol.pb import internal_pb2 as pb
from tidewell.querier.remote import CONTENT_TYPE, PATH_PREFIX
from tidewell.querier.wire import decode_matchers, encode_select_response

__all__ = ["ConsistencyWaiter", "internal_query_routes"]

ConsistencyWaiter = Callable[[int, float], Awaitable[None]]
"""``await waiter(end_offset, timeout_s)``: return once consumed, raise TimeoutError if not."""

_log = logging.getLogger("tidewell.api")


def _read_request(body: bytes) -> pb.ReadRequest:
    try:
        return pb.ReadRequest.FromString(body)
    except DecodeError as exc:
        raise RPCError(400, f"bad request body: {exc}") from exc


def too_many_samples(limit: int, series: int, samples: int) -> RPCError:
    """The 422 of a select past ``max_samples``, with what the source found."""
    return RPCError(422, f"the select would fetch more than {limit} samples",
                    found_series=series, found_samples=max(samples, limit + 1))


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

    def matchers_of(req: pb.ReadRequest) -> list[Any]:
        try:
            return decode_matchers(req)
        except ValueError as exc:
            raise RPCError(400, f"bad matcher: {exc}") from exc

    def querier_of(tenant: str, req: pb.ReadRequest) -> Querier:
        if not req.block_ids:
            return queryable.querier(tenant, req.mint, req.maxt)
        blocks_querier = getattr(queryable, "blocks_querier", None)
        if blocks_querier is None:
            raise RPCError(400, "block_ids given but this component serves no blocks")
        q: Querier = blocks_querier(tenant, req.mint, req.maxt, list(req.block_ids))
        return q

    def queried(q: Querier) -> list[str]:
        return list(getattr(q, "queried_blocks", ()))

    def select(tenant: str, req: pb.ReadRequest) -> bytes:
        matchers = matchers_of(req)
        q = querier_of(tenant, req)
        try:
            series = q.select(matchers, SelectHints(max_series=req.max_series,
                                                    max_samples=req.max_samples))
        except SelectLimitError as exc:
            if exc.what == "samples":
                raise too_many_samples(exc.limit, exc.series, exc.samples) from None
            raise RPCError(422, f"the query hit the max number of series limit "
                             f"(limit: {req.max_series} series)") from None
        if req.max_series > 0 and len(series) > req.max_series:
            raise RPCError(422, f"the query hit the max number of series limit "
                             f"(limit: {req.max_series} series)")
        if req.max_samples > 0:  # a source that cannot count before decoding: not sent
            held = sum(len(s.timestamps) for s in series)
            if held > req.max_samples:
                raise too_many_samples(req.max_samples, len(series), held)
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
            raise RPCError(400, "label_values needs a label_name")
        q = querier_of(tenant, req)
        return strings(q.label_values(req.label_name, matchers_of(req)), req, q)

    async def wait_for_offset(request: Request) -> Response:
        if consistency_waiter is None:
            return error_response(501, "this component consumes no partition")
        try:
            req = pb.WaitForOffsetRequest.FromString(await request.body())
        except DecodeError as exc:
            return error_response(400, f"bad request body: {exc}")
        timeout = req.timeout_seconds if req.timeout_seconds > 0 else default_wait_timeout_s
        try:
            done = await until_disconnect(
                request, lambda: _true_after(consistency_waiter(req.end_offset, timeout)))
        except TimeoutError as exc:
            return error_response(504, str(exc) or f"not caught up to offset {req.end_offset} "
                          f"within {timeout}s")
        except Exception as exc:
            _log.exception("wait_for_offset failed")
            return error_response(503, f"{type(exc).__name__}: {exc}")
        if done is None:
            return Response(status_code=CLIENT_CLOSED)
        return Response(b"", media_type=CONTENT_TYPE)

    return [
        rpc_route("select", select, _read_request),
        rpc_route("label_names", label_names, _read_request),
        rpc_route("label_values", label_values, _read_request),
        Route(f"{PATH_PREFIX}wait_for_offset", wait_for_offset, methods=["POST"]),
    ]
