"""Distributor over the Kafka backend on Apache Kafka and tansu: outage → 5xx, recovery."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.support.brokers import BROKERS, Broker
from tests.unit.distributor.helpers import make_ring, request
from tidewell.distributor import Distributor, DistributorConfig, Limits, Overrides
from tidewell.distributor.errors import UnavailableError
from tidewell.ingest.config import KafkaConfig
from tidewell.ingest.kafka import KafkaReader, open_kafka_writer
from tidewell.model import Labels
from tidewell.protocol import decode_record_value

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(params=BROKERS)
def broker(request: pytest.FixtureRequest,
           broker_of: Callable[[str], Broker]) -> Iterator[tuple[Broker, str]]:
    """The session's broker (tests/integration/conftest.py): frozen here, thawed after."""
    b = broker_of(request.param)
    yield b, b.address
    b.resume()


def test_broker_outage_gives_5xx_in_time_and_acknowledged_data_survives(broker):
    proc, address = broker
    cfg = KafkaConfig(address=address, topic=f"ingest-{uuid.uuid4().hex[:8]}",
                      auto_create_topic_default_partitions=2, write_timeout=2.0)

    async def body():
        writer = await open_kafka_writer(cfg)
        reader = KafkaReader(cfg, request_timeout_s=10.0)
        dist = Distributor(DistributorConfig(), Overrides(Limits()), make_ring(2), writer)
        try:
            before = [{"__name__": "before", "i": str(i)} for i in range(20)]
            await dist.push("t1", request(*before))
            proc.pause()
            try:
                t0 = time.monotonic()
                with pytest.raises(UnavailableError) as exc:
                    await dist.push("t1", request({"__name__": "during"}))
                assert exc.value.status == 500
                assert time.monotonic() - t0 < cfg.write_timeout + 2.0
            finally:
                proc.resume()
            deadline = time.monotonic() + 30
            while True:  # the producer reconnects; the client would retry the 5xx
                try:
                    await dist.push("t1", request({"__name__": "after"}))
                    break
                except UnavailableError:
                    assert time.monotonic() < deadline, "writes did not recover"
                    await asyncio.sleep(0.2)
            names: set[Labels] = set()
            for p in range(2):
                end = await reader.end_offset(p)
                offset = 0
                while offset < end:
                    recs = await reader.fetch(p, offset, 1000, 5.0)
                    assert recs
                    for r in recs:
                        assert r.key == b"t1" and r.version == 1
                        names.update(decode_record_value(r.value, r.version).labels)
                    offset = recs[-1].offset + 1
            assert {Labels.from_dict(s) for s in before} <= names  # nothing acked is lost
            assert Labels.from_dict({"__name__": "after"}) in names
        finally:
            await writer.close()
            await reader.close()

    asyncio.run(body())
