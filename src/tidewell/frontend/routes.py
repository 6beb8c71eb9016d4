"""The frontend's HTTP face: Prometheus query endpoints in front of the middleware chain.

``/query`` and ``/query_range`` are parsed into a :class:`QueryRequest` and run
through the chain; anything the frontend cannot parse is forwarded untouched so
the querier answers with Prometheus's own error. Every other
``/prometheus/api/v1/…`` path is proxied to the downstream as is.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from datetime import datetime
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tidewell.frontend import metrics
from tidewell.frontend.config import FrontendConfig
from tidewell.frontend.downstream import HTTPDownstream
from tidewell.frontend.request import (
    INSTANT,
    PASS_THROUGH_HEADERS,
    RANGE,
    FrontendError,
    Handler,
    QueryRequest,
    QueryResponse,
    error_response,
)
from tidewell.model.errors import TidewellError
from tidewell.util.config_fields import InvalidValueError, parse_duration
from tidewell.util.priority import WRITES

__all__ = ["frontend_routes", "parse_request"]

log = logging.getLogger("tidewell.frontend")

_OWN_PARAMS = {"query", "start", "end", "step", "time"}
MAX_POINTS = 11_000


class _Unparsable(TidewellError):
    """Leave it to the querier to phrase the error."""


def _time_ms(value: str) -> int:
    try:
        f = float(value)
    except ValueError:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise _Unparsable(value) from None
        if dt.tzinfo is None:
            raise _Unparsable(value) from None
        return round(dt.timestamp() * 1000)
    if math.isnan(f) or math.isinf(f):
        raise _Unparsable(value)
    return round(f * 1000)


def _duration_ms(value: str) -> int:
    try:
        f = float(value)
    except ValueError:
        try:
            f = parse_duration(value)
        except InvalidValueError:
            raise _Unparsable(value) from None
    if math.isnan(f) or math.isinf(f):
        raise _Unparsable(value)
    return round(f * 1000)


def _tenant(request: Request) -> str:
    tenant = getattr(request.state, "tenant", None)
    return tenant or request.headers.get("x-scope-orgid") or "anonymous"


def parse_request(kind: str, params: list[tuple[str, str]], tenant: str,
                  headers: dict[str, str], now_ms: int) -> QueryRequest:
    """A query request from API parameters; raises ``_Unparsable`` for anything odd."""
    p: dict[str, str] = {}
    for k, v in params:
        p.setdefault(k, v)
    query = p.get("query")
    if not query:
        raise _Unparsable("query")
    extra = tuple((k, v) for k, v in params if k not in _OWN_PARAMS)
    if kind == INSTANT:
        t = _time_ms(p["time"]) if p.get("time") else now_ms
        return QueryRequest(INSTANT, tenant, query, t, t, 0, headers, extra)
    if not all(p.get(k) for k in ("start", "end", "step")):
        raise _Unparsable("range")
    start, end, step = _time_ms(p["start"]), _time_ms(p["end"]), _duration_ms(p["step"])
    if step <= 0 or end < start or (end - start) // step > MAX_POINTS:
        raise _Unparsable("range")
    return QueryRequest(RANGE, tenant, query, start, end, step, headers, extra)


def _to_starlette(resp: QueryResponse) -> Response:
    headers = {k: v for k, v in resp.headers.items() if k != "content-length"}
    headers.setdefault("content-type", "application/json")
    return Response(resp.body, status_code=resp.status_code, headers=headers)


async def _form(request: Request) -> list[tuple[str, str]]:
    params = list(request.query_params.multi_items())
    if request.method == "POST" and request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"):
        body = (await request.body()).decode("utf-8", "replace")
        params = parse_qsl(body, keep_blank_values=True) + params
    return params


def frontend_routes(chain: Handler, config: FrontendConfig, *,
                    downstream: HTTPDownstream | None = None,
                    prefix: str = "/prometheus/api/v1") -> list[Route]:
    """Routes for ``/query``, ``/query_range`` through ``chain`` and, given ``downstream``,
    a pass-through for the rest of the API."""

    async def forward(request: Request, rest: str) -> Response:
        if downstream is None:
            return _to_starlette(error_response(404, "not_found", "not found"))
        try:
            path = f"{downstream.prefix}/{rest}"
            resp = await downstream.proxy(request.method, path, request.url.query.encode(),
                                          dict(request.headers), await request.body())
        except FrontendError as e:
            resp = error_response(e.status, e.error_type, str(e))
        return _to_starlette(resp)

    async def proxy(request: Request) -> Response:
        return await forward(request, request.path_params["rest"])

    def endpoint(kind: str):  # type: ignore[no-untyped-def]
        async def handle(request: Request) -> Response:
            started = time.perf_counter()
            headers = {k: v for k, v in request.headers.items() if k in PASS_THROUGH_HEADERS}
            try:
                req = parse_request(kind, await _form(request), _tenant(request), headers,
                                    int(time.time() * 1000))
            except _Unparsable:
                if downstream is not None:
                    return await forward(request, kind)
                return _to_starlette(error_response(400, "bad_data", "invalid query parameters"))
            try:
                async with asyncio.timeout(config.query_timeout or None):
                    await WRITES.step_aside()  # pushes in flight first (util/priority.py)
                    resp = await chain.do(req)
            except FrontendError as e:
                resp = error_response(e.status, e.error_type, str(e))
            except TimeoutError:
                resp = error_response(503, "timeout", "query timed out in query execution "
                                      "(limit -query-frontend.query-timeout)")
            except Exception as e:
                log.exception("frontend query failed")
                resp = error_response(500, "internal", str(e))
            metrics.QUERY_DURATION.labels(request.method, str(resp.status_code)).observe(
                time.perf_counter() - started)
            return _to_starlette(resp)
        return handle

    return [
        Route(f"{prefix}/query_range", endpoint(RANGE), methods=["GET", "POST"]),
        Route(f"{prefix}/query", endpoint(INSTANT), methods=["GET", "POST"]),
        Route(prefix + "/{rest:path}", proxy, methods=["GET", "POST"]),
    ]
