"""Server side of the cardinality RPCs: an ingester's head statistics served to queriers.

Routes (POST, JSON bodies from ``querier.cardinality``, tenant in ``X-Scope-OrgID``):

* ``/internal/v1/label_stats``    series per label name and value, head stats
* ``/internal/v1/active_series``  label sets of the active series matching a selector

Errors as the other internal routes (an ``ErrorResponse``): 400 bad body or matcher,
401 no tenant, 413 the answer exceeds the request's ``max_bytes``, 500 otherwise.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from tidewell.api.internal.rpc import RPCError, rpc_route
from tidewell.ingester.cardinality import ResultTooLargeError
from tidewell.ingester.user_tsdb import TenantRegistry
from tidewell.model.matchers import InvalidRegexError
from tidewell.querier.cardinality import (
    LocalCardinality,
    decode_stats_request,
    encode_label_stats,
    encode_series,
)

__all__ = ["internal_cardinality_routes"]


def internal_cardinality_routes(tenants: TenantRegistry,
                                active_idle_timeout_s: float) -> list[Route]:
    """Routes serving ``tenants`` (an ingester's heads) to remote queriers' cardinality API."""
    local = LocalCardinality(tenants, active_idle_timeout_s)

    def parse(body: bytes) -> tuple[Any, str, list[str] | None, int]:
        try:
            return decode_stats_request(body)
        except (ValueError, InvalidRegexError) as exc:
            raise RPCError(400, str(exc)) from exc

    def label_stats(tenant: str, body: bytes) -> bytes:
        matchers, method, names, max_bytes = parse(body)
        return encode_label_stats(local.label_stats(
            tenant, matchers, count_method=method, names=names, max_bytes=max_bytes))

    def active_series(tenant: str, body: bytes) -> bytes:
        matchers, _, _, max_bytes = parse(body)
        return encode_series(local.active_series(tenant, matchers, max_bytes=max_bytes))

    return [
        rpc_route("label_stats", label_stats, bytes, {ResultTooLargeError: 413}),
        rpc_route("active_series", active_series, bytes, {ResultTooLargeError: 413}),
    ]
