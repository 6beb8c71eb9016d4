"""The write gate: query threads and loop tasks step aside while a push is in flight,
for no longer than the cap or the query's deadline, and never when no push is."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from prometheus_client import REGISTRY

from tidewell.util.priority import WriteGate

pytestmark = pytest.mark.serial  # the write gate's waits are timed: alone on its core

LONG = 60.0
"""A cap no test reaches: a test that waits for it has found a bug (and hangs visibly)."""


def yields(where: str = "worker") -> float:
    return REGISTRY.get_sample_value("tidewell_query_write_yields_total",
                                     {"where": where}) or 0.0


def poll(cond, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.001)
    return cond()


def test_no_write_in_flight_costs_no_wait() -> None:
    gate = WriteGate(max_wait_s=LONG)
    before = yields()
    for _ in range(1000):
        gate.checkpoint()
    assert yields() == before
    with gate.writing():
        assert gate.writes == 1
    assert gate.writes == 0
    gate.checkpoint()  # the write ended: nothing to wait for
    assert yields() == before


def test_checkpoint_waits_while_a_write_is_in_flight_and_returns_when_it_ends() -> None:
    gate = WriteGate(max_wait_s=LONG)
    before = yields()
    returned = threading.Event()

    def query() -> None:
        gate.checkpoint()
        returned.set()

    with gate.writing():
        t = threading.Thread(target=query)
        t.start()
        assert poll(lambda: yields() > before)  # the query thread is parked
        assert not returned.is_set()
        with gate.writing():  # a second push overlapping the first
            pass
        assert not returned.is_set()  # one write still in flight
    assert returned.wait(LONG / 2)  # released by the end of the write, not by the cap
    t.join()


def test_wait_is_capped_then_the_thread_runs_before_it_waits_again() -> None:
    gate = WriteGate(max_wait_s=0.02, min_run_s=LONG)
    with gate.writing():
        before = yields()
        t0 = time.monotonic()
        gate.checkpoint()  # returns although the write is still in flight
        assert time.monotonic() - t0 >= 0.02
        assert yields() == before + 1
        gate.checkpoint()  # within its minimum run: no second wait
        assert yields() == before + 1


def test_deadline_ends_the_wait() -> None:
    gate = WriteGate(max_wait_s=LONG)
    with gate.writing():
        deadline = time.monotonic() + 0.02
        gate.checkpoint(deadline)
        assert time.monotonic() >= deadline
        before = yields()
        gate.checkpoint(time.monotonic() - 1)  # already past: no wait at all
        assert yields() == before


def test_turned_off_never_waits() -> None:
    gate = WriteGate(max_wait_s=LONG)
    gate.configure(max_wait_s=0, min_run_s=0)
    before = yields(), yields("event-loop")
    with gate.writing():
        gate.checkpoint()
        asyncio.run(gate.step_aside())
    assert (yields(), yields("event-loop")) == before


def test_loop_task_steps_aside_until_the_write_ends() -> None:
    gate = WriteGate(max_wait_s=LONG)

    async def main() -> None:
        assert await asyncio.wait_for(gate.step_aside(), 1) is None  # idle: at once
        before = yields("event-loop")
        with gate.writing():
            task = asyncio.create_task(gate.step_aside())
            for _ in range(20):
                await asyncio.sleep(0)
            assert not task.done()
            assert yields("event-loop") == before + 1
        await asyncio.wait_for(task, LONG / 2)

    asyncio.run(main())


def test_loop_task_wait_is_capped() -> None:
    gate = WriteGate(max_wait_s=0.02)

    async def main() -> None:
        with gate.writing():
            t0 = time.monotonic()
            await asyncio.wait_for(gate.step_aside(), LONG / 2)
            assert time.monotonic() - t0 >= 0.02

    asyncio.run(main())


def test_a_write_ended_on_another_thread_releases_loop_tasks() -> None:
    gate = WriteGate(max_wait_s=LONG)
    entered, leave = threading.Event(), threading.Event()

    def push() -> None:
        with gate.writing():
            entered.set()
            leave.wait(LONG)

    t = threading.Thread(target=push)
    t.start()
    assert entered.wait(LONG)

    async def main() -> None:
        task = asyncio.create_task(gate.step_aside())
        await asyncio.sleep(0.01)
        assert not task.done()
        leave.set()
        await asyncio.wait_for(task, LONG / 2)

    asyncio.run(main())
    t.join()
