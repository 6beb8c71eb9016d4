"""Server side of the exemplar and metadata RPCs: an ingester's stores served to queriers.

Routes (POST, protobuf bodies from ``ingester_meta.proto``, tenant in ``X-Scope-OrgID``):

* ``/internal/v1/exemplars``  ExemplarsRequest → ExemplarsResponse
* ``/internal/v1/metadata``   MetadataRequest → MetadataResponse

Errors as the other internal routes: an ``ErrorResponse`` with 400 (bad body or
matcher), 401 (no tenant) or 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from google.protobuf.message import DecodeError
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
from tidewell.querier.meta import MetaSource
from tidewell.querier.meta_wire import (
    decode_exemplars_request,
    decode_metadata_request,
    encode_exemplars_response,
    encode_metadata_response,
)
from tidewell.querier.remote import CONTENT_TYPE, PATH_PREFIX

__all__ = ["internal_meta_routes"]

_log = logging.getLogger("tidewell.api")


def internal_meta_routes(source: MetaSource) -> list[Route]:
    """Routes serving ``source`` (an ingester's ``TenantRegistry``) to remote queriers."""

    def handler(run: Callable[[str, bytes], bytes]) -> Callable[..., Any]:
        async def endpoint(request: Request) -> Response:
            try:
                tenant = _tenant(request)
                body = await request.body()
                out = await _in_thread_until_disconnect(request, lambda: run(tenant, body))
            except _HTTPError as exc:
                return _error(exc.status, str(exc))
            except Exception as exc:
                _log.exception("internal %s failed", request.url.path)
                return _error(500, f"{type(exc).__name__}: {exc}")
            if out is None:
                return Response(status_code=_CLIENT_CLOSED)
            return Response(out, media_type=CONTENT_TYPE)

        return endpoint

    def exemplars(tenant: str, body: bytes) -> bytes:
        try:
            start, end, sets = decode_exemplars_request(body)
        except (DecodeError, ValueError, re.error) as exc:
            raise _HTTPError(400, f"bad request: {exc}") from exc
        return encode_exemplars_response(source.exemplars(tenant, start, end, sets))

    def metadata(tenant: str, body: bytes) -> bytes:
        try:
            limit, per_metric, metric = decode_metadata_request(body)
        except DecodeError as exc:
            raise _HTTPError(400, f"bad request: {exc}") from exc
        return encode_metadata_response(source.metadata(tenant, limit, per_metric, metric))

    return [
        Route(f"{PATH_PREFIX}exemplars", handler(exemplars), methods=["POST"]),
        Route(f"{PATH_PREFIX}metadata", handler(metadata), methods=["POST"]),
    ]
