"""Ingester integration tests: the shared helpers, plus real brokers for the Kafka runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.brokers import Broker, start_broker
from tests.support.ingester import make_batch, new_ingester, new_log, record

__all__ = ["make_batch", "new_ingester", "new_log", "record"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="package")
def brokers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Broker]]:
    """Brokers started on first use (``broker_of(kind)``), stopped after this package."""
    started: dict[str, Broker] = {}
    yield started
    for b in started.values():
        b.stop()


@pytest.fixture
def broker_of(brokers: dict[str, Broker], tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """``broker_of("kafka")`` / ``broker_of("tansu")``: this package's broker of that kind."""

    def get(kind: str) -> Broker:
        if kind not in brokers:
            brokers[kind] = start_broker(kind, tmp_path_factory.mktemp(kind))
        return brokers[kind]

    return get
