from __future__ import annotations

import asyncio

import pytest

from tidewell.frontend.queue import FairQueue
from tidewell.frontend.request import (
    INSTANT,
    QueryRequest,
    QueryResponse,
    ShuttingDownError,
    TooManyOutstandingRequestsError,
)


class Gated:
    """Records the order requests reach it; holds each one until ``gate`` opens."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.gate = asyncio.Event()

    async def do(self, request: QueryRequest) -> QueryResponse:
        self.order.append(request.query)
        await self.gate.wait()
        return QueryResponse.from_json({"status": "success", "data": {
            "resultType": "scalar", "result": [0, request.query]}})


def req(tenant: str, name: str) -> QueryRequest:
    return QueryRequest(INSTANT, tenant, name, 0, 0)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


@pytest.mark.anyio
async def test_round_robin_between_tenants():
    ds = Gated()
    q = FairQueue(ds, max_outstanding_per_tenant=100, workers=1)
    tasks = []
    for name in ["a1", "a2", "a3", "a4", "a5", "a6", "b1", "b2"]:
        tasks.append(asyncio.create_task(q.do(req(name[0], name))))
        await settle()
    assert ds.order == ["a1"] and q.queued("a") == 5 and q.queued("b") == 2
    ds.gate.set()
    results = await asyncio.gather(*tasks)
    assert ds.order == ["a1", "a2", "b1", "a3", "b2", "a4", "a5", "a6"]
    assert [r.json()["data"]["result"][1] for r in results] == [
        "a1", "a2", "a3", "a4", "a5", "a6", "b1", "b2"]
    await q.close()


@pytest.mark.anyio
async def test_full_tenant_queue_rejects_only_that_tenant():
    ds = Gated()
    q = FairQueue(ds, max_outstanding_per_tenant=2, workers=1)
    running = asyncio.create_task(q.do(req("a", "a1")))
    await settle()
    queued = [asyncio.create_task(q.do(req("a", n))) for n in ("a2", "a3")]
    await settle()
    with pytest.raises(TooManyOutstandingRequestsError) as e:
        await q.do(req("a", "a4"))
    assert e.value.status == 429
    other = asyncio.create_task(q.do(req("b", "b1")))
    await settle()
    ds.gate.set()
    await asyncio.gather(running, other, *queued)
    assert sorted(ds.order) == ["a1", "a2", "a3", "b1"]
    await q.close()


@pytest.mark.anyio
async def test_worker_count_bounds_concurrency_and_cancelled_requests_are_dropped():
    ds = Gated()
    q = FairQueue(ds, max_outstanding_per_tenant=100, workers=3)
    tasks = [asyncio.create_task(q.do(req("a", f"a{i}"))) for i in range(8)]
    await settle()
    assert len(ds.order) == 3
    tasks[5].cancel()  # still queued: must never reach the downstream
    await settle()
    ds.gate.set()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(done[5], asyncio.CancelledError)
    assert "a5" not in ds.order and len(ds.order) == 7
    await q.close()


@pytest.mark.anyio
async def test_drain_answers_queued_and_new_requests_503_and_lets_running_ones_finish():
    ds = Gated()
    q = FairQueue(ds, max_outstanding_per_tenant=100, workers=2)
    tasks = [asyncio.create_task(q.do(req(t, f"{t}{i}"))) for i in range(3) for t in "ab"]
    await settle()
    assert len(ds.order) == 2
    q.drain()
    with pytest.raises(ShuttingDownError) as refused:
        await q.do(req("a", "late"))
    assert refused.value.status == 503
    await settle()  # the workers wake for the answered requests and find nothing to run
    ds.gate.set()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    ran = [d for d in done if isinstance(d, QueryResponse)]
    refused_queued = [d for d in done if isinstance(d, ShuttingDownError)]
    assert len(ran) == 2 and len(refused_queued) == 4
    assert "not started" in str(refused_queued[0])
    assert len(ds.order) == 2 and q.queued("a") == q.queued("b") == 0
    assert q.supervisor.failure is None and len(q.supervisor.running) == 2
    await q.close()
