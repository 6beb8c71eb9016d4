"""Kafka-protocol brokers shared by the whole session: each kind is started once, on first
use, and stopped after the last test (an Apache Kafka start is several seconds of CPU).

Tests on a shared broker create their own topics. One that freezes it (``pause``) thaws it
before it ends; one that stops it uses a broker of its own (``start_broker``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.brokers import Broker, start_broker


@pytest.fixture(scope="session")
def brokers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Broker]]:
    """Brokers started on first use (``broker_of(kind)``), stopped after the session."""
    started: dict[str, Broker] = {}
    yield started
    for b in started.values():
        b.resume()
        b.stop()


@pytest.fixture(scope="session")
def broker_of(brokers: dict[str, Broker],
              tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Broker]:
    """``broker_of("kafka")`` / ``broker_of("tansu")``: the session's broker of that kind."""

    def get(kind: str) -> Broker:
        if kind not in brokers:
            brokers[kind] = start_broker(kind, tmp_path_factory.mktemp(kind))
        return brokers[kind]

    return get
