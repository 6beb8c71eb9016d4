"""A real S3-compatible server (moto in server mode) on a loopback port."""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from moto.server import ThreadedMotoServer

from tidewell.util.ports import free_port

_names = itertools.count()


@dataclass
class MotoS3:
    server: ThreadedMotoServer | None
    port: int

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def create_bucket(self, name: str) -> None:
        r = httpx.put(f"http://{self.endpoint}/{name}", timeout=10)
        r.raise_for_status()


def start_moto(port: int) -> ThreadedMotoServer:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server


@pytest.fixture
def moto_factory() -> Iterator[Callable[[int], MotoS3]]:
    """Start extra servers (for tests that stop them); all are stopped at the end."""
    started: list[ThreadedMotoServer] = []

    def start(port: int = 0) -> MotoS3:
        port = port or free_port()
        server = start_moto(port)
        started.append(server)
        return MotoS3(server, port)

    yield start
    for server in started:
        with contextlib.suppress(Exception):  # already stopped by the test
            server.stop()


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    port = free_port()
    server = start_moto(port)
    try:
        yield MotoS3(server, port)
    finally:
        server.stop()


@pytest.fixture
def s3_bucket_name(moto_s3: MotoS3) -> str:
    name = f"tidewell-{next(_names)}"
    moto_s3.create_bucket(name)
    return name
