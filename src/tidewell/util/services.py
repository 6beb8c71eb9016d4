"""Component lifecycle: start in dependency order, stop in reverse, report readiness.

A service is anything with async ``start()``/``stop()`` and an optional
``ready() -> (bool, reason)``; the manager owns the state machine so that
components stay plain objects.

Background work is supervised as in dskit: a service runs its loops through a
:class:`Supervisor` (``supervisor`` attribute), ``every()`` being dskit's timer
service. A loop that raises is a failed service: the traceback is logged, the
module turns Failed, ``/ready`` answers 503 and :meth:`ServiceManager.failed`
fires so the process stops with a non-zero exit for its orchestrator to restart
it. Loops handle the errors they expect (a broker or bucket briefly away) and
keep going; only the unexpected ends them.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import logging
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

log = logging.getLogger("tidewell.services")


DRAIN_MARGIN_S = 5.0
"""Beyond the shutdown timeout for a drain: a service bounds its own wait by that timeout
and then answers what it cut; this only ends a drain that is stuck."""


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


@runtime_checkable
class Drainable(Protocol):
    """A service that takes requests: on shutdown it first stops taking new ones,
    answers those waiting with a clear error and lets those running finish (bounded)."""

    async def drain(self) -> None: ...


class Supervisor:
    """The background loops of one service (dskit's basic and timer services).

    ``spawn`` runs a long loop, ``every`` an iteration at a fixed interval; the
    first one to raise fails the service and tells the listeners (the
    :class:`ServiceManager`). Cancellation (``stop``) is not a failure.
    """

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.failure: str | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._listeners: list[Callable[[str], None]] = []

    def add_listener(self, listener: Callable[[str], None]) -> None:
        """``listener(reason)`` is called once, when the first loop fails."""
        self._listeners.append(listener)

    def spawn(self, name: str, loop: Callable[[], Awaitable[None]]) -> Callable[[], None]:
        """Run ``loop()`` until it returns, is cancelled by ``stop``, or fails.

        Returns a function that cancels this loop alone (not a failure). A name
        may be reused once its loop ended.
        """
        task = asyncio.get_running_loop().create_task(self._guard(name, loop),
                                                      name=f"{self.owner}/{name}")
        self._tasks[name] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._tasks.get(name) is done:
                del self._tasks[name]

        task.add_done_callback(forget)
        return task.cancel

    def every(self, name: str, interval: float | Callable[[], float],
              iteration: Callable[[], Awaitable[object]]) -> None:
        """Call ``iteration()`` every ``interval`` seconds, the first time after one interval."""
        period = interval if callable(interval) else (lambda: interval)

        async def timer() -> None:
            while True:
                await asyncio.sleep(period())
                await iteration()

        self.spawn(name, timer)

    @property
    def running(self) -> list[str]:
        return [name for name, t in self._tasks.items() if not t.done()]

    async def stop(self) -> None:
        """Cancel every loop and wait for them to end."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _guard(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        try:
            await loop()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = f"{name}: {type(exc).__name__}: {exc}"
            log.error("background loop failed",
                      extra={"fields": {"module": self.owner, "loop": name,
                                        "err": f"{type(exc).__name__}: {exc}",
                                        "traceback": "".join(traceback.format_exception(exc))}})
            if self.failure is None:
                self.failure = reason
                for listener in self._listeners:
                    listener(reason)


@runtime_checkable
class Supervised(Protocol):
    supervisor: Supervisor


@dataclass
class _Entry:
    name: str
    service: Service
    state: State = State.NEW
    failure: str = ""
    started: bool = False


class ServiceManager:
    """Runs named services; the list order is the dependency order."""

    def __init__(self, services: list[tuple[str, Service]] | None = None) -> None:
        self._entries: list[_Entry] = []
        self._failed = asyncio.Event()
        self._first_failure = ""
        self._draining = False
        for name, svc in services or []:
            self.add(name, svc)

    def add(self, name: str, service: Service, *, first: bool = False) -> None:
        """Register a service; ``first`` puts it ahead of everything added so far."""
        entry = _Entry(name, service)
        self._entries.insert(0 if first else len(self._entries), entry)
        supervisors = getattr(service, "supervisors", None) or (
            [service.supervisor] if isinstance(service, Supervised) else [])
        for sup in supervisors:
            sup.add_listener(functools.partial(self._on_failure, entry))

    def _on_failure(self, entry: _Entry, reason: str) -> None:
        if entry.state is State.FAILED:
            return
        entry.state = State.FAILED
        entry.failure = reason
        if not self._first_failure:
            self._first_failure = f"module {entry.name} failed: {reason}"
        self._failed.set()

    async def failed(self) -> str:
        """Wait until a running module fails; return which and why."""
        await self._failed.wait()
        return self._first_failure

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
            entry.started = True
            if entry.state is State.STARTING:  # a loop may have failed already
                entry.state = State.RUNNING

    async def stop_all(self, timeout_s: float) -> None:
        """Drain, then stop running services in reverse order, each step bounded so shutdown
        always ends.

        Every module drains first, all at once (started in reverse order, in one loop
        turn): the query-frontend answers its queued queries 503 while the HTTP server
        (first in the list) closes its listener and waits for the requests in flight, so
        no request reaches a module that is stopping. Only then do modules stop, the
        ingester still flushing what it acknowledged.
        """
        self._draining = True
        await asyncio.gather(*(
            self._drain(entry, entry.service, timeout_s) for entry in reversed(self._entries)
            if entry.started and isinstance(entry.service, Drainable)))
        for entry in reversed(self._entries):
            failed_running = entry.state is State.FAILED and entry.started
            if entry.state not in (State.RUNNING, State.STARTING) and not failed_running:
                continue
            entry.started = False  # stop once, even when it fails
            failure = entry.failure
            entry.state = State.STOPPING
            log.info("stopping module", extra={"fields": {"module": entry.name}})
            try:
                await asyncio.wait_for(entry.service.stop(), timeout=timeout_s)
                entry.state = State.FAILED if failure else State.TERMINATED
            except Exception as exc:  # a stuck or broken stop must not block the others
                entry.state = State.FAILED
                entry.failure = f"stop: {type(exc).__name__}: {exc}"
                log.error(
                    "module failed to stop",
                    extra={"fields": {"module": entry.name, "err": entry.failure}},
                )

    @staticmethod
    async def _drain(entry: _Entry, service: Drainable, timeout_s: float) -> None:
        try:
            await asyncio.wait_for(service.drain(), timeout=timeout_s + DRAIN_MARGIN_S)
        except Exception as exc:  # one stuck drain must not keep the others running
            log.error("module failed to drain", extra={"fields": {
                "module": entry.name, "err": f"{type(exc).__name__}: {exc}"}})

    def ready(self) -> tuple[bool, str]:
        if self._draining:
            return False, "shutting down"
        for entry in self._entries:
            if entry.state is State.FAILED:
                return False, f"module {entry.name} is Failed: {entry.failure}"
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
    supervisors: list[Supervisor] = field(default_factory=list)
    """The loops of the wrapped objects, so that their failure fails this module."""
    on_drain: Callable[[], object] | None = None
    """Stop taking requests before the stop (see :class:`Drainable`)."""

    async def start(self) -> None:
        result = self.on_start()
        if asyncio.iscoroutine(result):
            await result

    async def stop(self) -> None:
        result = self.on_stop()
        if asyncio.iscoroutine(result):
            await result

    async def drain(self) -> None:
        result = self.on_drain() if self.on_drain is not None else None
        if asyncio.iscoroutine(result):
            await result
