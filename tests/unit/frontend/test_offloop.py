"""The frontend's CPU steps (cache decode/merge/encode, split merge) run on its threads:
while a push is in flight they park at the write gate and the event loop keeps running
other coroutines meanwhile (issue 14). Events only, no timing thresholds."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator

import pytest
from prometheus_client import REGISTRY

from tidewell.frontend.cache import InMemoryCache
from tidewell.frontend.offloop import off_loop
from tidewell.frontend.request import QueryResponse
from tidewell.frontend.results_cache import ResultsCacheMiddleware
from tidewell.frontend.split import SplitByIntervalMiddleware
from tidewell.util.priority import WRITES

from .conftest import MatrixDownstream, matrix_for, range_request

pytestmark = pytest.mark.serial  # loop turns counted beside off-loop work (GIL): alone on a core

DAY = 86400
D0 = 100 * DAY
H = 3600
LONG = 60.0
"""A write-gate cap no test reaches: a step that waits for it on the loop blocks the loop."""


def yields() -> float:
    return REGISTRY.get_sample_value("tidewell_query_write_yields_total",
                                     {"where": "worker"}) or 0.0


@pytest.fixture
def long_gate() -> Iterator[None]:
    old = WRITES.max_wait_s, WRITES.min_run_s
    WRITES.configure(LONG, 0.0)
    try:
        yield
    finally:
        WRITES.configure(*old)


async def parked_while_a_push_is_in_flight(run: Callable[[], Awaitable[QueryResponse]]
                                           ) -> QueryResponse:
    """``run()`` started while a write is in flight: it must park on a thread (the loop
    polls the gate's counter meanwhile) and finish once the write ends."""
    before = yields()
    with WRITES.writing():
        task = asyncio.create_task(run())
        async with asyncio.timeout(LONG):  # a hang guard only
            while yields() == before:  # on the loop this would not run until the cap
                await asyncio.sleep(0.001)
        assert not task.done()
    return await task


@pytest.mark.anyio
async def test_off_loop_runs_beside_the_loop() -> None:
    started, release = threading.Event(), threading.Event()

    def work() -> str:
        started.set()
        assert release.wait(LONG), "the loop never ran while the work was on the thread"
        return threading.current_thread().name

    task = asyncio.create_task(off_loop(work))
    async with asyncio.timeout(LONG):  # a hang guard only
        while not started.is_set():
            await asyncio.sleep(0.001)
    release.set()  # set by a coroutine on the loop while the work is still running
    assert await task != threading.current_thread().name


@pytest.mark.anyio
async def test_results_cache_work_parks_off_the_loop_for_a_push(long_gate: None) -> None:
    ds = MatrixDownstream()
    h = ResultsCacheMiddleware(InMemoryCache(1 << 20), window=DAY, max_freshness=600,
                               now=lambda: D0 + 30 * DAY).wrap(ds)
    req = range_request(D0, D0 + 6 * H, 60)
    await h.do(req)  # stored
    resp = await parked_while_a_push_is_in_flight(lambda: h.do(req))
    assert len(ds.requests) == 1  # answered from the cache
    assert resp.json() == matrix_for(req)


@pytest.mark.anyio
async def test_split_merge_parks_off_the_loop_for_a_push(long_gate: None) -> None:
    ds = MatrixDownstream()
    h = SplitByIntervalMiddleware(DAY, 4).wrap(ds)
    req = range_request(D0 + 20 * H, D0 + 28 * H, 60)
    resp = await parked_while_a_push_is_in_flight(lambda: h.do(req))
    assert len(ds.requests) == 2
    assert resp.json() == matrix_for(req)
