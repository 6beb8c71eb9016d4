"""Our query routes and a real Prometheus on loopback, for the tests that compare them.

Both conformance tests against the binary start Prometheus on its own data and
serve the same series from a ``MemStore`` through uvicorn; they differ in the
command and in what "ready" means, and compare numbers the same way.
"""

from __future__ import annotations

import math
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from memstore import MemStore
from starlette.applications import Starlette
from starlette.routing import Mount

from tidewell.api.prometheus import query_routes
from tidewell.querier.config import QuerierConfig
from tidewell.util.ports import free_port

__all__ = ["close", "serving_beside"]


@contextmanager
def serving_beside(command: list[str], store: MemStore, ready: Callable[[str, str], bool],
                   timeout_s: float = 60.0) -> Iterator[tuple[str, str]]:
    """Prometheus (``command``, listening on a free port) and our routes over ``store``:
    (Prometheus's URL, ours) once ``ready(theirs, ours)`` holds; both stopped after."""
    prom_port, our_port = free_port(), free_port()
    prom = subprocess.Popen([*command, f"--web.listen-address=127.0.0.1:{prom_port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    app = Starlette(routes=[Mount("/prometheus", routes=query_routes(store, QuerierConfig()))])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=our_port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    urls = (f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{our_port}/prometheus")
    try:
        deadline = time.monotonic() + timeout_s
        while not _ready(ready, *urls):
            if time.monotonic() > deadline:
                pytest.fail(f"prometheus or our server did not come up within {timeout_s:g}s")
            time.sleep(0.3)
        yield urls
    finally:
        server.should_exit = True
        prom.terminate()
        prom.wait(timeout=30)
        thread.join(timeout=10)


def _ready(ready: Callable[[str, str], bool], theirs: str, ours: str) -> bool:
    try:
        return ready(theirs, ours)
    except (httpx.HTTPError, KeyError, ValueError):
        return False


def close(a: str, b: str) -> bool:
    """Two JSON sample values agree: both NaN, or within a relative 1e-9."""
    fa, fb = float(a), float(b)
    if math.isnan(fa) and math.isnan(fb):
        return True
    return fa == fb or abs(fa - fb) <= 1e-9 * max(abs(fa), abs(fb))
