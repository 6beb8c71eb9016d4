"""A real etcd server on loopback (Debian ``etcd-server``), started and killed by the tests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tidewell.util.ports import free_port as _free_port

ETCD = shutil.which("etcd") or "/usr/bin/etcd"


class EtcdServer:
    """One etcd member; ``kill`` + ``start`` restarts it on the same data dir and ports."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.client_port = _free_port()
        self.peer_port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"etcd-{self.client_port}.log"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    def start(self, timeout: float = 20.0) -> None:
        client = f"http://127.0.0.1:{self.client_port}"
        peer = f"http://127.0.0.1:{self.peer_port}"
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [
                ETCD,
                "--name", "default",
                "--data-dir", str(self.data_dir),
                "--listen-client-urls", client,
                "--advertise-client-urls", client,
                "--listen-peer-urls", peer,
                "--initial-advertise-peer-urls", peer,
                "--initial-cluster", f"default={peer}",
                "--log-level", "warn",
            ],
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"etcd exited: {self.log_path.read_text()[-2000:]}")
            try:
                r = httpx.get(f"{client}/health", timeout=1.0, trust_env=False)
                if r.status_code == 200 and r.json().get("health") == "true":
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("etcd did not become healthy in time")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None


def _need_etcd() -> None:
    if not os.path.exists(ETCD):
        pytest.fail("etcd binary missing: apt-get install -y etcd-server (scripts/setup.sh)")


@pytest.fixture(scope="session")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    """A shared etcd for tests that use their own keys or prefixes."""
    _need_etcd()
    server = EtcdServer(tmp_path_factory.mktemp("etcd") / "data")
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def private_etcd(tmp_path: Path) -> Iterator[EtcdServer]:
    """An etcd only this test uses (free to kill and restart)."""
    _need_etcd()
    server = EtcdServer(tmp_path / "data")
    server.start()
    try:
        yield server
    finally:
        server.kill()
