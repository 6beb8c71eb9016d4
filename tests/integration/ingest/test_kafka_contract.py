"""The shared log contract, run against the Kafka backend on real brokers (Apache Kafka, tansu)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest

from tidewell.ingest.config import KafkaConfig
from tidewell.ingest.kafka import KafkaReader, open_kafka_writer
from tidewell.ingest.log import LogWriter, PartitionReader
from tidewell.ingest.testing import LogContractTests, closing_pair

pytestmark = pytest.mark.timeout(120)


class TestKafkaLogContract(LogContractTests):
    @pytest.fixture(autouse=True)
    def _broker(self, broker) -> None:  # type: ignore[no-untyped-def]
        self.cfg = KafkaConfig(
            address=broker.address,
            topic=f"ingest-{uuid.uuid4().hex[:12]}",
            auto_create_topic_default_partitions=2,
            write_timeout=10.0,
        )

    @contextlib.asynccontextmanager
    async def open_log(self) -> AsyncIterator[tuple[LogWriter, PartitionReader]]:
        writer = await open_kafka_writer(self.cfg)
        reader = KafkaReader(self.cfg)
        async with closing_pair(writer, reader) as pair:
            yield pair
