"""The per-tenant fair queue between the frontend's middlewares and the queriers.

Each tenant has its own FIFO, bounded by ``-querier.max-outstanding-requests-per-tenant``
(a full queue answers 429 at once instead of piling up latency). A fixed set
of workers — the querier concurrency — takes requests round-robin across the
tenants that have any queued, so one tenant's flood of split parts delays
another tenant by at most one request per worker, as Mimir's request queue does.
A caller that goes away cancels its request, queued or running. On shutdown
(:meth:`FairQueue.drain`) the queue stops taking requests: those queued and those
arriving get a 503 at once, those running finish.
"""

from __future__ import annotations

import asyncio
from collections import deque

from tidewell.frontend import metrics
from tidewell.frontend.request import (
    Handler,
    QueryRequest,
    QueryResponse,
    ShuttingDownError,
    TooManyOutstandingRequestsError,
)
from tidewell.util.services import Supervisor

__all__ = ["FairQueue"]

_Item = tuple[QueryRequest, "asyncio.Future[QueryResponse]"]


class FairQueue:
    """A :class:`Handler` that queues per tenant and runs ``workers`` requests at a time."""

    def __init__(self, next: Handler, *, max_outstanding_per_tenant: int, workers: int) -> None:
        self.next = next
        self.max_outstanding = max_outstanding_per_tenant
        self.n_workers = max(1, workers)
        self._queues: dict[str, deque[_Item]] = {}
        self._order: deque[str] = deque()
        self._ready: asyncio.Semaphore | None = None
        self._draining = False
        self.supervisor = Supervisor("query-frontend")
        """The workers: one failing fails the module (a request's own error goes to it)."""

    def queued(self, tenant: str) -> int:
        q = self._queues.get(tenant)
        return len(q) if q else 0

    def _start(self) -> asyncio.Semaphore:
        if self._ready is None:
            self._ready = asyncio.Semaphore(0)
            for i in range(self.n_workers):
                self.supervisor.spawn(f"worker-{i}", self._work)
        return self._ready

    async def do(self, request: QueryRequest) -> QueryResponse:
        if self._draining:
            raise _shutting_down()
        ready = self._start()
        tenant = request.tenant
        q = self._queues.get(tenant)
        if q is not None and len(q) >= self.max_outstanding:
            metrics.DISCARDED_REQUESTS.labels(tenant).inc()
            raise TooManyOutstandingRequestsError(
                "too many outstanding requests (limit -querier.max-outstanding-requests-per-"
                f"tenant={self.max_outstanding})")
        if q is None:
            q = self._queues[tenant] = deque()
            self._order.append(tenant)
        fut: asyncio.Future[QueryResponse] = asyncio.get_running_loop().create_future()
        q.append((request, fut))
        metrics.QUEUE_LENGTH.labels(tenant).set(len(q))
        ready.release()
        return await fut

    def _next_item(self) -> _Item:
        tenant = self._order.popleft()
        q = self._queues[tenant]
        item = q.popleft()
        if q:
            self._order.append(tenant)
        else:
            del self._queues[tenant]
        metrics.QUEUE_LENGTH.labels(tenant).set(len(q))
        return item

    async def _work(self) -> None:
        assert self._ready is not None
        while True:
            await self._ready.acquire()
            if not self._order:  # drained: its queued requests were answered
                continue
            request, fut = self._next_item()
            if fut.done():  # the caller gave up while queued
                continue
            task = asyncio.create_task(self.next.do(request))
            fut.add_done_callback(lambda f, t=task: t.cancel() if f.cancelled() else None)
            await asyncio.wait({task})
            if fut.done():
                continue
            if task.cancelled():
                fut.cancel()
            elif (exc := task.exception()) is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(task.result())

    def drain(self) -> None:
        """Stop taking requests: the queued ones and any new one get a 503 now."""
        self._draining = True
        for tenant, q in self._queues.items():
            for _, fut in q:
                if not fut.done():
                    fut.set_exception(_shutting_down())
            metrics.QUEUE_LENGTH.labels(tenant).set(0)
        self._queues.clear()
        self._order.clear()

    async def close(self) -> None:
        self.drain()
        await self.supervisor.stop()
        self._ready = None


def _shutting_down() -> ShuttingDownError:
    return ShuttingDownError("the query-frontend is shutting down: the query was not started")
