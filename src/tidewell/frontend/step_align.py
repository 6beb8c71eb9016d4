"""Step alignment: move a range query's start and end down onto multiples of its step.

Aligned queries evaluate on the same grid whatever second they were sent at,
so their results can be cached and reused (``-query-frontend.align-queries-with-step``).
"""

from __future__ import annotations

from tidewell.frontend.request import RANGE, Handler, QueryRequest, QueryResponse

__all__ = ["StepAlignMiddleware", "align"]


def align(req: QueryRequest) -> QueryRequest:
    if req.kind != RANGE or req.step <= 0:
        return req
    start = req.start // req.step * req.step
    end = req.end // req.step * req.step
    if (start, end) == (req.start, req.end):
        return req
    return req.with_start_end(start, end)


class _StepAlign:
    def __init__(self, next: Handler) -> None:
        self.next = next

    async def do(self, request: QueryRequest) -> QueryResponse:
        return await self.next.do(align(request))


class StepAlignMiddleware:
    def wrap(self, next: Handler) -> Handler:
        return _StepAlign(next)
