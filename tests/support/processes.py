"""Waiting for and freezing the real servers the tests start."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable

import httpx


def listening(port: int, host: str = "127.0.0.1") -> bool:
    """True once something accepts TCP connections on ``host:port``."""
    try:
        socket.create_connection((host, port), 0.2).close()
    except OSError:
        return False
    return True


def wait_http_ok(
    url: str,
    proc: subprocess.Popen[bytes],
    timeout_s: float,
    what: str,
    logs: Callable[[], str],
) -> None:
    """Poll ``url`` until it answers 200; fail with the server's log if it exits or times out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}:\n{logs()}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{what} not ready after {timeout_s}s:\n{logs()}")


class Freezable:
    """SIGSTOP/SIGCONT for a server: connections stay open while nothing is answered."""

    proc: subprocess.Popen[bytes] | None

    def pause(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
