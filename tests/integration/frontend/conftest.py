"""Real servers for the frontend's integration tests: memcached, and the real query API
over a small fixed dataset that spans several UTC days."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from tests.support.memory import DictQuerier
from tidewell.model import Labels
from tidewell.util.ports import free_port

DAY_MS = 86_400_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
SPAN_DAYS = 3


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@contextlib.contextmanager
def running_memcached() -> Iterator[str]:
    """A real memcached on a free loopback port, stopped on exit; yields ``host:port``."""
    binary = shutil.which("memcached")
    if binary is None:
        pytest.fail("memcached is not installed (apt-get install -y memcached)")
    port = free_port()
    args = [binary, "-p", str(port), "-l", "127.0.0.1", "-U", "0", "-m", "64"]
    if os.geteuid() == 0:
        args += ["-u", "root"]  # memcached refuses to run as root without naming a user
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError as e:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"memcached did not start: {proc.stderr.read()!r}") from e
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def memcached() -> Iterator[str]:
    with running_memcached() as address:
        yield address


@pytest.fixture
def memcached_trio() -> Iterator[list[str]]:
    """Three memcached servers, for key placement."""
    with running_memcached() as a, running_memcached() as b, running_memcached() as c:
        yield [a, b, c]


def memcached_stats(address: str) -> dict[str, str]:
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=2) as s:
        s.sendall(b"stats\r\n")
        buf = b""
        while not buf.endswith(b"END\r\n"):
            buf += s.recv(65536)
    return {p[1]: p[2] for p in (line.split() for line in buf.decode().splitlines())
            if len(p) == 3}


class DictQueryable:
    """A fixed dataset: counters (one with a reset, one with a gap) and gauges, 60s apart."""

    def __init__(self) -> None:
        self.data: dict[Labels, tuple[np.ndarray, np.ndarray]] = {}
        ts = np.arange(T0, T0 + SPAN_DAYS * DAY_MS + 1, 60_000, dtype=np.int64)
        rng = np.random.default_rng(7)
        for job in ("api", "db"):
            for inst in ("a", "b", "c"):
                incr = rng.integers(0, 50, ts.size).astype(np.float64)
                vals = np.cumsum(incr)
                keep = np.ones(ts.size, dtype=bool)
                if (job, inst) == ("api", "b"):
                    vals[ts.size // 2:] -= vals[ts.size // 2]  # counter reset
                if (job, inst) == ("db", "c"):  # a 3h gap across the first midnight
                    keep &= (ts < T0 + DAY_MS - 5_400_000) | (ts > T0 + DAY_MS + 5_400_000)
                self._add({"__name__": "http_requests_total", "job": job, "instance": inst},
                          ts[keep], vals[keep])
                g = 50 + 30 * np.sin(ts / 3.6e6 + rng.random()) + rng.random(ts.size)
                self._add({"__name__": "temperature", "job": job, "instance": inst}, ts, g)

    def _add(self, labels: dict[str, str], ts: np.ndarray, vals: np.ndarray) -> None:
        self.data[Labels.from_dict(labels)] = (ts, vals)

    def querier(self, tenant: str, mint: int, maxt: int) -> DictQuerier:
        return DictQuerier(self.data, mint, maxt)


@pytest.fixture(scope="session")
def query_api() -> Starlette:
    """The real Prometheus query API (``query_routes``) over :class:`DictQueryable`."""
    from tidewell.api.prometheus import query_routes
    from tidewell.querier.config import QuerierConfig

    return Starlette(routes=[Mount("/prometheus",
                                   routes=query_routes(DictQueryable(), QuerierConfig()))])
