"""Component lifecycle: start in dependency order, stop in reverse, report readiness.

A service is anything with async ``start()``/``stop()`` and an optional
``ready() -> (bool, reason)``; the manager owns the state machine so that
components stay plain objects.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

log = logging.getLogger("tidewell.services")


class State(enum.Enum):
    NEW = "New"
    STARTING = "Starting"
    RUNNING = "Running"
    STOPPING = "Stopping"
    TERMINATED = "Terminated"
    FAILED = "Failed"


class Service(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@runtime_checkable
class ReadinessReporter(Protocol):
    def ready(self) -> tuple[bool, str]: ...


@dataclass
class _Entry:
    name: str
    service: Service
    state: State = State.NEW
    failure: str = ""


class ServiceManager:
    """Runs named services; the list order is the dependency order."""

    def __init__(self, services: list[tuple[str, Service]] | None = None) -> None:
        self._entries = [_Entry(name, svc) for name, svc in services or []]

    def add(self, name: str, service: Service, *, first: bool = False) -> None:
        """Register a service; ``first`` puts it ahead of everything added so far."""
        self._entries.insert(0 if first else len(self._entries), _Entry(name, service))

    async def start_all(self) -> None:
        for entry in self._entries:
            entry.state = State.STARTING
            log.info("starting module", extra={"fields": {"module": entry.name}})
            try:
                await entry.service.start()
            except Exception as exc:
                entry.state = State.FAILED
                entry.failure = f"{type(exc).__name__}: {exc}"
                log.error(
                    "module failed to start",
                    extra={"fields": {"module": entry.name, "err": entry.failure}},
                )
                await self.stop_all(timeout_s=10.0)
                raise
            entry.state = State.RUNNING

    async def stop_all(self, timeout_s: float) -> None:
        """Stop running services in reverse order, each bounded so shutdown always ends."""
        for entry in reversed(self._entries):
            if entry.state not in (State.RUNNING, State.STARTING):
                continue
            entry.state = State.STOPPING
            log.info("stopping module", extra={"fields": {"module": entry.name}})
            try:
                await asyncio.wait_for(entry.service.stop(), timeout=timeout_s)
                entry.state = State.TERMINATED
            except Exception as exc:  # a stuck or broken stop must not block the others
                entry.state = State.FAILED
                entry.failure = f"stop: {type(exc).__name__}: {exc}"
                log.error(
                    "module failed to stop",
                    extra={"fields": {"module": entry.name, "err": entry.failure}},
                )

    def ready(self) -> tuple[bool, str]:
        for entry in self._entries:
            if entry.state is not State.RUNNING:
                return False, f"module {entry.name} is {entry.state.value}"
            if isinstance(entry.service, ReadinessReporter):
                ok, reason = entry.service.ready()
                if not ok:
                    return False, f"module {entry.name} is not ready: {reason}"
        return True, ""

    def states(self) -> dict[str, str]:
        return {e.name: e.state.value for e in self._entries}


@dataclass
class FunctionService:
    """Adapts start/stop callables (e.g. of a library object) to ``Service``."""

    on_start: Callable[[], object]
    on_stop: Callable[[], object]

    async def start(self) -> None:
        result = self.on_start()
        if asyncio.iscoroutine(result):
            await result

    async def stop(self) -> None:
        result = self.on_stop()
        if asyncio.iscoroutine(result):
            await result
