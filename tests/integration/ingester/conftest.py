"""Ingester integration tests: the shared helpers; the Kafka runs use the session's brokers
(tests/integration/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.brokers import Broker
from tests.support.ingester import make_batch, new_ingester, new_log, record
from tidewell.ingest.config import KafkaConfig
from tidewell.ingest.embedded.log import EmbeddedLog
from tidewell.ingest.kafka import KafkaReader, open_kafka_writer

__all__ = ["LogOpener", "make_batch", "new_ingester", "new_log", "record"]

LogOpener = Callable[[str, str], Awaitable[tuple[Any, Any, Callable[[], Awaitable[None]]]]]
"""The ``open_log`` fixture: ``await open_log(backend, topic_prefix)``."""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def open_log(broker_of: Callable[[str], Broker], tmp_path: Path) -> LogOpener:
    """``await open_log(backend, topic_prefix)``: (writer, reader, close) over a
    one-partition log: embedded under ``tmp_path``, or a fresh topic on this package's
    broker of that kind."""

    async def open_(backend: str, topic_prefix: str
                    ) -> tuple[Any, Any, Callable[[], Awaitable[None]]]:
        if backend == "embedded":
            log = EmbeddedLog(str(tmp_path / "log"), 1, group_commit_window=0.0)
            return log, log, log.close
        cfg = KafkaConfig(address=broker_of(backend).address,
                          topic=f"{topic_prefix}-{uuid.uuid4().hex[:8]}",
                          auto_create_topic_default_partitions=1)
        writer = await open_kafka_writer(cfg)
        reader = KafkaReader(cfg, request_timeout_s=10.0)

        async def close() -> None:
            await writer.close()
            await reader.close()

        return writer, reader, close

    return open_
