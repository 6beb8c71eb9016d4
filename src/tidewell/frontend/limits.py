"""Query limits the frontend enforces before queueing: ``-query-frontend.max-total-query-length``.

Refused here, a too-long query costs no queue slot, no split and no querier work (as
Mimir's frontend limits middleware does); the querier still bounds each selector with
``-querier.max-partial-query-length``.
"""

from __future__ import annotations

from collections.abc import Callable

from tidewell.frontend.request import Handler, QueryRequest, QueryResponse, error_response
from tidewell.util.config_fields import format_duration

__all__ = ["MaxTotalQueryLengthMiddleware"]


class _MaxTotalQueryLength:
    def __init__(self, next: Handler, limit_ms: Callable[[str], int]) -> None:
        self.next = next
        self.limit_ms = limit_ms

    async def do(self, request: QueryRequest) -> QueryResponse:
        length = request.end - request.start
        limit_ms = self.limit_ms(request.tenant)
        if 0 < limit_ms < length:
            return error_response(400, "bad_data", (
                "the total query time range exceeds the limit (query length: "
                f"{format_duration(length / 1000)}, limit: "
                f"{format_duration(limit_ms / 1000)}) (err-mimir-max-total-query-length). "
                "To adjust the related per-tenant limit, configure "
                "-query-frontend.max-total-query-length, or contact your service "
                "administrator."))
        return await self.next.do(request)


class MaxTotalQueryLengthMiddleware:
    """Refuse range queries spanning more than the tenant's ``limit_ms(tenant)`` with 400
    ``bad_data`` (0: no limit for that tenant)."""

    def __init__(self, limit_ms: Callable[[str], int]) -> None:
        self.limit_ms = limit_ms

    def wrap(self, next: Handler) -> Handler:
        return _MaxTotalQueryLength(next, self.limit_ms)
