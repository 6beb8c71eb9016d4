"""Server side of the exemplar and metadata RPCs: an ingester's stores served to queriers.

Routes (POST, protobuf bodies from ``ingester_meta.proto``, tenant in ``X-Scope-OrgID``):

* ``/internal/v1/exemplars``  ExemplarsRequest → ExemplarsResponse
* ``/internal/v1/metadata``   MetadataRequest → MetadataResponse

Errors as the other internal routes: an ``ErrorResponse`` with 400 (bad body or
matcher), 401 (no tenant) or 500.
"""

from __future__ import annotations

import re

from google.protobuf.message import DecodeError
from starlette.routing import Route

from tidewell.api.internal.rpc import RPCError, rpc_route
from tidewell.querier.meta import MetaSource
from tidewell.querier.meta_wire import (
    decode_exemplars_request,
    decode_metadata_request,
    encode_exemplars_response,
    encode_metadata_response,
)

__all__ = ["internal_meta_routes"]


def internal_meta_routes(source: MetaSource) -> list[Route]:
    """Routes serving ``source`` (an ingester's ``TenantRegistry``) to remote queriers."""

    def exemplars(tenant: str, body: bytes) -> bytes:
        try:
            start, end, sets = decode_exemplars_request(body)
        except (DecodeError, ValueError, re.error) as exc:
            raise RPCError(400, f"bad request: {exc}") from exc
        return encode_exemplars_response(source.exemplars(tenant, start, end, sets))

    def metadata(tenant: str, body: bytes) -> bytes:
        try:
            limit, per_metric, metric = decode_metadata_request(body)
        except DecodeError as exc:
            raise RPCError(400, f"bad request: {exc}") from exc
        return encode_metadata_response(source.metadata(tenant, limit, per_metric, metric))

    return [
        rpc_route("exemplars", exemplars, bytes),
        rpc_route("metadata", metadata, bytes),
    ]
