"""Ingester integration tests: the shared helpers, plus a real broker for the Kafka runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.ingester import make_batch, new_ingester, new_log, record
from tests.support.ports import free_port
from tests.support.tansu import Tansu

__all__ = ["make_batch", "new_ingester", "new_log", "record"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tansu]:
    """A tansu broker (Kafka-compatible) on a loopback port, memory storage."""
    broker = Tansu(free_port(), tmp_path_factory.mktemp("tansu") / "tansu.log")
    broker.start()
    yield broker
    broker.stop()
