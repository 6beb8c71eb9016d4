"""Idle and half-sent connections against a real ``tidewell``: does ``/ready`` keep answering?

Run by hand (never as a timed test)::

    python -m benchmarks.bench_connections            # 21,000 sockets, like issue 14
    SRC=/work/main/src python -m benchmarks.bench_connections   # the same against another tree

Starts ``tidewell`` on embedded defaults, lets client processes (each under
its own open-file limit) open idle sockets and sockets that sent half a request
header, then times 50 ``GET /ready`` and 20 pushes on fresh connections, and
counts how many held sockets the server closed (connection cap and timeouts).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.launch import free_port, wait_http_ok

SOCKETS = int(os.environ.get("SOCKETS", "21000"))
READY_N = int(os.environ.get("READY_N", "50"))
PER_CLIENT = 10_500
HOLDER = r"""
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
held = []
for i in range(n):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError as exc:
        print(f"connect failed after {i}: {exc}", flush=True)
        break
    if i % 2:
        s.sendall(b"GET /ready HTTP/1.1\r\nHost: x\r\n")  # half a request header
    held.append(s)
print(f"opened {len(held)}", flush=True)
sys.stdin.readline()  # hold until told to count
closed = 0
for s in held:
    s.setblocking(False)
    try:
        closed += s.recv(1) == b""
    except BlockingIOError:
        pass
    except OSError:
        closed += 1
print(f"closed_by_server {closed}", flush=True)
"""


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main() -> None:
    src = os.environ.get("SRC", str(Path(__file__).resolve().parents[1] / "src"))
    port = free_port()
    data = tempfile.mkdtemp(prefix="bench-conn-")
    env = {**os.environ, "PYTHONPATH": src}
    server = subprocess.Popen(
        [sys.executable, "-m", "tidewell", f"-server.http-listen-port={port}",
         "-server.http-listen-address=127.0.0.1", f"-common.storage.path={data}",
         "-auth.multitenancy-enabled=false"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    holders: list[subprocess.Popen[str]] = []
    try:
        if not wait_http_ok(f"{url}/ready", 60.0, alive=lambda: server.poll() is None):
            raise SystemExit(f"tidewell did not become ready at {url} within 60s")
        left = SOCKETS
        while left > 0:
            n = min(PER_CLIENT, left)
            holders.append(subprocess.Popen([sys.executable, "-c", HOLDER, str(port), str(n)],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            text=True))
            left -= n
        opened = [h.stdout.readline().strip() for h in holders]  # type: ignore[union-attr]
        ready_ms, failures = [], 0
        for _ in range(READY_N):
            t0 = time.perf_counter()
            try:
                ok = httpx.get(f"{url}/ready", timeout=5).status_code == 200
            except httpx.HTTPError:
                ok = False
            ready_ms.append((time.perf_counter() - t0) * 1000)
            failures += not ok
        closed = []
        for h in holders:
            h.stdin.write("\n")  # type: ignore[union-attr]
            h.stdin.flush()  # type: ignore[union-attr]
            closed.append(h.stdout.readline().strip())  # type: ignore[union-attr]
            h.wait(30)
        print(f"tree: {src}")
        print(f"held sockets: {opened}")
        print(f"/ready: {READY_N - failures}/{READY_N} answered 200, "
              f"p50 {percentile(ready_ms, 0.5):.1f} ms, "
              f"p99 {percentile(ready_ms, 0.99):.1f} ms, max {max(ready_ms):.1f} ms")
        print(f"server closed: {closed}")
    finally:
        for h in holders:
            h.kill()
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    socket.setdefaulttimeout(10)
    main()
