"""Splitting range queries by interval, as Mimir's query-frontend splits them.

Part boundaries sit on multiples of the split interval counted from the Unix
epoch — UTC midnights for the default 24h — and every part keeps the original
step grid: a part ends on the last step before a boundary and the next starts
one step later, so the parts together evaluate exactly the original steps.
Parts run through the rest of the chain with at most ``max_query_parallelism``
in flight and their matrices are merged.
"""

from __future__ import annotations

import asyncio
import re

from tidewell.frontend import metrics
from tidewell.frontend.merge import merge_responses
from tidewell.frontend.offloop import off_loop
from tidewell.frontend.request import RANGE, Handler, QueryRequest, QueryResponse
from tidewell.util.priority import WRITES

__all__ = ["SplitByIntervalMiddleware", "next_interval_boundary", "split_by_interval"]

_AT_START_END = re.compile(r"@\s*(start|end)\s*\(\s*\)")


def next_interval_boundary(t: int, step: int, interval: int) -> int:
    """The last point of ``t``'s step grid before the interval boundary after ``t`` (ms)."""
    start_of_next = (t // interval + 1) * interval
    target = start_of_next - (start_of_next - t) % step
    if target == start_of_next:
        target -= step
    return target


def split_by_interval(req: QueryRequest, interval: int) -> list[QueryRequest]:
    """The parts of a range query, one per interval it touches (``interval`` in ms)."""
    parts = []
    start = req.start
    while start <= req.end:
        end = next_interval_boundary(start, req.step, interval)
        if end + req.step >= req.end:
            end = req.end
        parts.append(req.with_start_end(start, end))
        start = end + req.step
    return parts


def splittable(req: QueryRequest) -> bool:
    """Range queries only, and not those using ``@ start()``/``@ end()``, whose meaning
    depends on the whole range (Mimir rewrites them; we leave them unsplit)."""
    return req.kind == RANGE and req.step > 0 and not _AT_START_END.search(req.query)


class _Split:
    def __init__(self, next: Handler, interval_ms: int, max_parallelism: int) -> None:
        self.next = next
        self.interval_ms = interval_ms
        self.max_parallelism = max_parallelism

    async def do(self, request: QueryRequest) -> QueryResponse:
        if self.interval_ms <= 0 or not splittable(request):
            return await self.next.do(request)
        parts = split_by_interval(request, self.interval_ms)
        parts = [p.with_total_queries(len(parts)) for p in parts]
        metrics.SPLIT_QUERIES.inc(len(parts))
        if len(parts) == 1:
            return await self.next.do(parts[0])
        sem = asyncio.Semaphore(self.max_parallelism)

        async def run(part: QueryRequest) -> QueryResponse:
            async with sem:
                return await self.next.do(part)

        try:
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(run(p)) for p in parts]
        except BaseExceptionGroup as group:  # the other parts are cancelled by now
            raise group.exceptions[0] from None
        responses = [t.result() for t in tasks]
        for r in responses:
            if not 200 <= r.status_code < 300:
                return r
        return await off_loop(lambda: _merged(responses, request.param("limit") or ""))


def _merged(responses: list[QueryResponse], limit: str) -> QueryResponse:
    """The parts' answers as one, encoded (on a frontend thread: offloop.py)."""
    for r in responses:
        if not r.ok:
            return r
    merged = merge_responses(responses)
    if limit.isdigit() and 0 < int(limit) < len(merged.json()["data"]["result"]):
        # Each part kept its first series in label order, so the merged first ``limit``
        # are the unsplit answer's.
        merged.json()["data"]["result"] = merged.json()["data"]["result"][:int(limit)]
    WRITES.checkpoint()
    merged.body  # noqa: B018 (encodes and keeps the bytes)
    return merged


class SplitByIntervalMiddleware:
    """Split by ``interval`` seconds (0 = off), ``max_parallelism`` parts in flight per query."""

    def __init__(self, interval: float, max_parallelism: int) -> None:
        self.interval_ms = round(interval * 1000)
        self.max_parallelism = max(1, max_parallelism)

    def wrap(self, next: Handler) -> Handler:
        return _Split(next, self.interval_ms, self.max_parallelism)
