"""Real HTTP servers on loopback serving an in-test Queryable over the internal routes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import uvicorn
from starlette.applications import Starlette

from tests.support.memory import DictQuerier
from tidewell.api.internal import ConsistencyWaiter, internal_query_routes
from tidewell.model import Labels, Queryable, stale_nan
from tidewell.util.ports import free_port

SERVE_SCRIPT = Path(__file__).with_name("serve_fixture.py")


class MemoryQueryable:
    """Per-tenant series in dicts; ``delay_s`` makes every select sleep (a slow peer)."""

    def __init__(self, data: dict[str, dict[Labels, tuple[np.ndarray, np.ndarray]]]) -> None:
        self.data = data
        self.delay_s = 0.0

    def querier(self, tenant: str, mint: int, maxt: int) -> DictQuerier:
        return DictQuerier(self.data.get(tenant, {}), mint, maxt, delay_s=self.delay_s)


def sample_data(n_series: int = 50, n_samples: int = 240, seed: int = 1) -> dict[
        str, dict[Labels, tuple[np.ndarray, np.ndarray]]]:
    """Tenant "t1": counters and gauges with NaN, stale NaN and ±Inf; tenant "t2": one series."""
    rng = np.random.default_rng(seed)
    t1: dict[Labels, tuple[np.ndarray, np.ndarray]] = {}
    for i in range(n_series):
        ts = 1_700_000_000_000 + np.cumsum(rng.integers(14_000, 16_000, n_samples))
        if i % 2:
            vs = np.cumsum(rng.integers(0, 100, n_samples)).astype(np.float64)
        else:
            vs = rng.normal(50, 10, n_samples)
        if i % 5 == 0:
            vs[3], vs[7], vs[11], vs[13] = np.nan, stale_nan(), np.inf, -np.inf
        labels = Labels.from_dict({"__name__": "metric_a" if i % 2 else "metric_b",
                                   "job": f"job{i % 3}", "instance": f"host-{i}:9100",
                                   "zone": "é✓ ünïcode" if i == 4 else "z1"})
        t1[labels] = (ts.astype(np.int64), vs)
    t2 = {Labels.from_dict({"__name__": "only_t2"}): (np.array([1, 2, 3], dtype=np.int64),
                                                      np.array([1.0, 2.0, 3.0]))}
    return {"t1": t1, "t2": t2}


def internal_app(queryable: Queryable, waiter: ConsistencyWaiter | None = None) -> Starlette:
    return Starlette(routes=internal_query_routes(queryable, consistency_waiter=waiter))


class ServerThread:
    """uvicorn on 127.0.0.1 in a daemon thread; ``stop()`` closes it and its connections."""

    def __init__(self, app: Starlette, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="off", timeout_graceful_shutdown=0.5)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.server.force_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def serve() -> Iterator[Callable[..., ServerThread]]:
    started: list[ServerThread] = []

    def start(app: Starlette, port: int | None = None) -> ServerThread:
        srv = ServerThread(app, port).start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


class ServerProcess:
    """``serve_fixture.py`` in its own process, so a test can SIGKILL it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVE_SCRIPT), str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError as exc:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    err = self.proc.stderr.read() if self.proc.stderr else b""
                    raise RuntimeError(f"serve_fixture did not start: {err!r}") from exc
                time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
            if self.proc.stderr is not None:
                self.proc.stderr.close()


@pytest.fixture
def server_process() -> Iterator[Callable[[int], ServerProcess]]:
    procs: list[ServerProcess] = []

    def make(port: int) -> ServerProcess:
        p = ServerProcess(port)
        procs.append(p)
        return p

    yield make
    for p in procs:
        p.kill()
