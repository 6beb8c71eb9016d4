"""Start the ``tidewell`` command as a user would: a subprocess on a free loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.processes import wait_http_ok


def tidewell_command() -> list[str]:
    return [sys.executable, "-m", "tidewell"]


@dataclass
class TidewellProcess:
    """A running ``tidewell`` and where to reach it."""

    data_dir: Path
    args: list[str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_ready: bool = True, timeout_s: float = 60.0) -> None:
        self.log_path = self.data_dir.parent / f"tidewell-{self.port}-{time.time_ns()}.log"
        cmd = [
            *tidewell_command(),
            f"-server.http-listen-port={self.port}",
            "-server.http-listen-address=127.0.0.1",
            f"-common.storage.path={self.data_dir}",
            *self.args,
        ]
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=self.log_path.open("wb"),
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        if wait_ready:
            self.wait_ready(timeout_s)

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        assert self.proc is not None
        wait_http_ok(f"{self.url}/ready", self.proc, timeout_s, "tidewell", self.logs)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"tidewell did not stop within {timeout_s}s") from None
        return self.proc.returncode


@pytest.fixture
def tidewell(tmp_path: Path) -> Iterator[TidewellProcess]:
    """Factory-style: call ``.start()`` after adjusting ``args``; stopped at teardown."""
    proc = TidewellProcess(data_dir=tmp_path / "data", args=[])
    yield proc
    if proc.proc is not None and proc.proc.poll() is None:
        proc.stop(signal.SIGKILL)
