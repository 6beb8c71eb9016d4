"""Real Kafka-protocol brokers for the ingest tests: Apache Kafka 4 and tansu, each test on both."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.brokers import BROKERS, Broker, start_broker


@pytest.fixture(scope="package", params=BROKERS)
def broker(request: pytest.FixtureRequest, broker_of: Callable[[str], Broker]) -> Broker:
    """The session's broker of each kind (tests/integration/conftest.py); own topics."""
    return broker_of(request.param)


@pytest.fixture(params=BROKERS)
def own_broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Broker]:
    """A broker for one test that stops it (one that only freezes it uses ``broker``)."""
    b = start_broker(request.param, tmp_path / request.param)
    yield b
    b.resume()
    b.stop()
