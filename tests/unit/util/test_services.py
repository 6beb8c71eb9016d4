"""Supervised services: a failed loop fails its module, /ready says so, the manager reports it."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from starlette.applications import Starlette

from tidewell.api.status import status_routes
from tidewell.util import services
from tidewell.util.services import FunctionService, ServiceManager, State, Supervisor


class Looping:
    """A service with a timer loop whose iteration can be told to fail."""

    def __init__(self, name: str) -> None:
        self.supervisor = Supervisor(name)
        self.iterations = 0
        self.error: Exception | None = None
        self.stopped = False

    async def tick(self) -> None:
        self.iterations += 1
        if self.error is not None:
            raise self.error

    async def start(self) -> None:
        self.supervisor.every("tick", 0.01, self.tick)

    async def stop(self) -> None:
        await self.supervisor.stop()
        self.stopped = True


async def ready(manager: ServiceManager) -> httpx.Response:
    app = Starlette(routes=status_routes(None, manager))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as c:
        return await c.get("/ready")


def test_timer_runs_until_stopped_and_cancellation_is_no_failure() -> None:
    async def body() -> None:
        svc = Looping("worker")
        manager = ServiceManager([("worker", svc)])
        await manager.start_all()
        await asyncio.sleep(0.1)
        assert svc.iterations >= 3
        assert manager.ready() == (True, "")
        await manager.stop_all(timeout_s=1)
        assert manager.states() == {"worker": "Terminated"}
        assert svc.stopped and svc.supervisor.failure is None

    asyncio.run(body())


def test_failed_loop_fails_module_ready_and_manager(caplog: pytest.LogCaptureFixture) -> None:
    async def body() -> None:
        healthy, broken = Looping("healthy"), Looping("broken")
        manager = ServiceManager([("healthy", healthy), ("broken", broken)])
        await manager.start_all()
        assert (await ready(manager)).status_code == 200
        broken.error = ValueError("disk says no")
        reason = await asyncio.wait_for(manager.failed(), 5)
        assert reason == "module broken failed: tick: ValueError: disk says no"
        assert manager.states() == {"healthy": "Running", "broken": "Failed"}
        r = await ready(manager)
        assert r.status_code == 503 and "module broken is Failed" in r.text
        assert broken.supervisor.running == []  # the failed loop ended
        assert healthy.supervisor.running == ["tick"]
        await manager.stop_all(timeout_s=1)
        assert healthy.stopped and broken.stopped  # a failed module is still stopped
        assert manager.states() == {"healthy": "Terminated", "broken": "Failed"}

    with caplog.at_level(logging.ERROR, logger="tidewell.services"):
        asyncio.run(body())
    (rec,) = [r for r in caplog.records if r.getMessage() == "background loop failed"]
    fields = rec.fields  # type: ignore[attr-defined]
    assert fields["module"] == "broken" and fields["loop"] == "tick"
    assert "Traceback" in fields["traceback"] and "in tick" in fields["traceback"]


def test_function_service_carries_the_supervisors_of_what_it_wraps() -> None:
    async def body() -> None:
        inner = Looping("inner")
        manager = ServiceManager()
        manager.add("outer", FunctionService(inner.start, inner.stop,
                                             supervisors=[inner.supervisor]))
        await manager.start_all()
        inner.error = RuntimeError("boom")
        assert "module outer failed" in await asyncio.wait_for(manager.failed(), 5)
        await manager.stop_all(timeout_s=1)
        assert inner.stopped

    asyncio.run(body())


def test_failure_while_starting_is_kept() -> None:
    async def body() -> None:
        svc = Looping("early")
        svc.error = KeyError("x")

        async def slow_start() -> None:
            await svc.start()
            await asyncio.sleep(0.1)  # the loop fails before start returns

        manager = ServiceManager()
        manager.add("early", FunctionService(slow_start, svc.stop, supervisors=[svc.supervisor]))
        await manager.start_all()
        assert manager.states()["early"] == State.FAILED.value
        assert "early" in await asyncio.wait_for(manager.failed(), 1)
        await manager.stop_all(timeout_s=1)
        assert svc.stopped

    asyncio.run(body())


class Recording:
    """A service that records its drain and stop (and whether /ready was failing by then)."""

    def __init__(self, name: str, events: list[str], manager: ServiceManager) -> None:
        self.name, self.events, self.manager = name, events, manager

    async def start(self) -> None:
        pass

    async def drain(self) -> None:
        self.events.append(f"drain {self.name} ready={self.manager.ready()[0]}")

    async def stop(self) -> None:
        self.events.append(f"stop {self.name}")


def test_every_module_drains_in_reverse_order_before_any_stops() -> None:
    async def scenario() -> list[str]:
        events: list[str] = []
        manager = ServiceManager()
        for name in ("server", "ingester", "frontend"):
            manager.add(name, Recording(name, events, manager))
        manager.add("plain", FunctionService(lambda: None, lambda: events.append("stop plain")))
        await manager.start_all()
        assert manager.ready() == (True, "")
        await manager.stop_all(timeout_s=1)
        return events

    assert asyncio.run(scenario()) == [
        "drain frontend ready=False", "drain ingester ready=False", "drain server ready=False",
        "stop plain", "stop frontend", "stop ingester", "stop server"]


def test_a_stuck_drain_does_not_stop_the_shutdown(caplog: pytest.LogCaptureFixture,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "DRAIN_MARGIN_S", 0.0)

    async def scenario() -> tuple[bool, str]:
        stopped = asyncio.Event()
        manager = ServiceManager([("stuck", FunctionService(
            lambda: None, stopped.set, on_drain=lambda: asyncio.sleep(3600)))])
        await manager.start_all()
        await manager.stop_all(timeout_s=0.01)
        return stopped.is_set(), manager.states()["stuck"]

    assert asyncio.run(scenario()) == (True, "Terminated")
    assert "module failed to drain" in caplog.text
