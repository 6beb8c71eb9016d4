"""Server side of the cardinality RPCs: an ingester's head statistics served to queriers.

Routes (POST, JSON bodies from ``querier.cardinality``, tenant in ``X-Scope-OrgID``):

* ``/internal/v1/label_stats``    series per label name and value, head stats
* ``/internal/v1/active_series``  label sets of the active series matching a selector

Errors as the other internal routes (an ``ErrorResponse``): 400 bad body or matcher,
401 no tenant, 413 the answer exceeds the request's ``max_bytes``, 500 otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tidewell.api.internal.routes import (
    _CLIENT_CLOSED,
    _error,
    _HTTPError,
    _in_thread_until_disconnect,
    _tenant,
)
from tidewell.ingester.cardinality import ResultTooLargeError
from tidewell.ingester.user_tsdb import TenantRegistry
from tidewell.model.matchers import InvalidRegexError
from tidewell.querier.cardinality import (
    LocalCardinality,
    decode_stats_request,
    encode_label_stats,
    encode_series,
)
from tidewell.querier.remote import CONTENT_TYPE, PATH_PREFIX

__all__ = ["internal_cardinality_routes"]

_log = logging.getLogger("tidewell.api")


def internal_cardinality_routes(tenants: TenantRegistry,
                                active_idle_timeout_s: float) -> list[Route]:
    """Routes serving ``tenants`` (an ingester's heads) to remote queriers' cardinality API."""
    local = LocalCardinality(tenants, active_idle_timeout_s)

    def handler(run: Callable[[str, bytes], bytes]) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            try:
                tenant = _tenant(request)
                body = await request.body()
                out = await _in_thread_until_disconnect(request, lambda: run(tenant, body))
            except _HTTPError as exc:
                return _error(exc.status, str(exc))
            except ResultTooLargeError as exc:
                return _error(413, str(exc))
            except Exception as exc:
                _log.exception("internal %s failed", request.url.path)
                return _error(500, f"{type(exc).__name__}: {exc}")
            if out is None:
                return Response(status_code=_CLIENT_CLOSED)
            return Response(out, media_type=CONTENT_TYPE)

        return endpoint

    def parse(body: bytes) -> tuple[Any, str, list[str] | None, int]:
        try:
            return decode_stats_request(body)
        except (ValueError, InvalidRegexError) as exc:
            raise _HTTPError(400, str(exc)) from exc

    def label_stats(tenant: str, body: bytes) -> bytes:
        matchers, method, names, max_bytes = parse(body)
        return encode_label_stats(local.label_stats(
            tenant, matchers, count_method=method, names=names, max_bytes=max_bytes))

    def active_series(tenant: str, body: bytes) -> bytes:
        matchers, _, _, max_bytes = parse(body)
        return encode_series(local.active_series(tenant, matchers, max_bytes=max_bytes))

    return [
        Route(f"{PATH_PREFIX}label_stats", handler(label_stats), methods=["POST"]),
        Route(f"{PATH_PREFIX}active_series", handler(active_series), methods=["POST"]),
    ]
