"""Real Kafka-protocol brokers for the ingest tests: Apache Kafka 4 and tansu, each test on both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.brokers import BROKERS, Broker, start_broker


@pytest.fixture(scope="package", params=BROKERS)
def broker(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """One broker of each kind shared by this package's tests (stopped after them); own topics."""
    b = start_broker(request.param, tmp_path_factory.mktemp(request.param))
    yield b
    b.stop()


@pytest.fixture(params=BROKERS)
def own_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Broker]:
    """A broker for one test that stops it (one that only freezes it uses ``broker``)."""
    b = start_broker(request.param, tmp_path / request.param)
    yield b
    b.resume()
    b.stop()
