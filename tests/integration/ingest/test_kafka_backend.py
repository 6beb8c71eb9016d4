"""Kafka backend behaviour beyond the shared contract, on real brokers (Apache Kafka, tansu)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from tests.support.metrics import metric_value
from tidewell.ingest.config import KafkaConfig
from tidewell.ingest.kafka import KafkaReader, KafkaWriter, open_kafka_writer
from tidewell.ingest.log import LogUnavailableError, ProduceRequest
from tidewell.ingest.metrics import (
    LAST_PRODUCED_OFFSET_REQUESTS,
    RECORDS_ENQUEUED,
    RECORDS_FAILED,
)
from tidewell.ingest.record import RecordTooLargeError

pytestmark = pytest.mark.timeout(120)


def _cfg(address: str, **kw: object) -> KafkaConfig:
    base: dict[str, object] = {
        "address": address,
        "topic": f"ingest-{uuid.uuid4().hex[:12]}",
        "auto_create_topic_default_partitions": 3,
        "write_timeout": 5.0,
    }
    base.update(kw)
    return KafkaConfig(**base)  # type: ignore[arg-type]


def _failed(reason: str) -> float:
    return metric_value(RECORDS_FAILED, reason)


def test_topic_is_auto_created_with_configured_partitions(broker) -> None:  # type: ignore[no-untyped-def]
    cfg = _cfg(broker.address, auto_create_topic_default_partitions=7)

    async def body() -> None:
        w = await open_kafka_writer(cfg)
        await w.close()

    asyncio.run(body())
    md = AdminClient({"bootstrap.servers": broker.address}).list_topics(cfg.topic, timeout=10)
    assert len(md.topics[cfg.topic].partitions) == 7


def test_records_carry_mimir_key_and_version_header(broker) -> None:  # type: ignore[no-untyped-def]
    """A plain Kafka consumer (not ours) sees Mimir's record layout."""
    cfg = _cfg(broker.address)

    async def body() -> None:
        w = await open_kafka_writer(cfg)
        await w.produce([ProduceRequest(2, b"tenant-1", b"body", version=1)])
        await w.close()

    asyncio.run(body())
    c = Consumer({"bootstrap.servers": broker.address, "group.id": "check"})
    try:
        c.assign([TopicPartition(cfg.topic, 2, 0)])
        m = c.poll(10)
        assert m is not None and m.error() is None
        assert (m.key(), m.value()) == (b"tenant-1", b"body")
        assert m.headers() == [("Version", b"\x00\x00\x00\x01")]
    finally:
        c.close()


def test_metrics_count_enqueued_records(broker) -> None:  # type: ignore[no-untyped-def]
    cfg = _cfg(broker.address)

    async def body() -> None:
        w = await open_kafka_writer(cfg)
        before = metric_value(RECORDS_ENQUEUED)
        await w.produce([ProduceRequest(0, b"t", b"v") for _ in range(4)])
        assert metric_value(RECORDS_ENQUEUED) - before == 4
        await w.close()

    asyncio.run(body())


def test_buffer_limit_and_record_size_fail_fast(broker) -> None:  # type: ignore[no-untyped-def]
    cfg = _cfg(broker.address, producer_max_buffered_bytes=10_000,
               producer_max_record_size_bytes=8_000)

    async def body() -> None:
        w = await open_kafka_writer(cfg)
        try:
            full = _failed("buffer-full")
            t0 = time.monotonic()
            with pytest.raises(LogUnavailableError, match="producer-max-buffered-bytes"):
                await w.produce([ProduceRequest(0, b"t", b"x" * 6000) for _ in range(2)])
            assert time.monotonic() - t0 < 1.0
            assert _failed("buffer-full") - full == 2
            with pytest.raises(RecordTooLargeError, match="producer-max-record-size-bytes"):
                await w.produce([ProduceRequest(0, b"t", b"x" * 9000)])
            # within the limits, writes still work
            assert await w.produce([ProduceRequest(0, b"t", b"x" * 6000)]) == [0]
        finally:
            await w.close()

    asyncio.run(body())


def test_broker_down_fails_within_write_timeout_and_recovers(broker) -> None:  # type: ignore[no-untyped-def]
    """Frozen broker: produces fail in time; acknowledged records survive; writes resume.

    On the package's broker (own topic): it is frozen, not stopped, and thawed before the
    test ends."""
    cfg = _cfg(broker.address, write_timeout=2.0)

    async def body() -> None:
        w = await open_kafka_writer(cfg)
        r = KafkaReader(cfg, request_timeout_s=10.0)
        try:
            acked = await w.produce([ProduceRequest(1, b"t", f"a{i}".encode()) for i in range(50)])
            assert acked == list(range(50))
            broker.pause()
            try:
                t0 = time.monotonic()
                with pytest.raises(LogUnavailableError):
                    await w.produce([ProduceRequest(1, b"t", b"during-outage")])
                elapsed = time.monotonic() - t0
                assert elapsed < cfg.write_timeout + 1.0, elapsed
            finally:
                broker.resume()
            deadline = time.monotonic() + 30
            while True:  # the producer reconnects; the first produces may still fail
                try:
                    (off,) = await w.produce([ProduceRequest(1, b"t", b"after")])
                    break
                except LogUnavailableError:
                    assert time.monotonic() < deadline, "writes did not recover"
                    await asyncio.sleep(0.2)
            end = await r.end_offset(1)
            assert end == off + 1
            got = []
            while len(got) < end:
                got.extend(await r.fetch(1, len(got), 1000, 5.0))
            values = [g.value for g in got]
            assert values[:50] == [f"a{i}".encode() for i in range(50)]  # nothing acked lost
            assert values[-1] == b"after"
        finally:
            await w.close()
            await r.close()

    asyncio.run(body())


def test_broker_unreachable_at_produce_fails_within_write_timeout(own_broker) -> None:  # type: ignore[no-untyped-def]
    cfg = _cfg(own_broker.address, write_timeout=1.5)

    async def body() -> None:
        w = KafkaWriter(cfg)
        await w.ensure_topic()
        own_broker.stop()
        try:
            t0 = time.monotonic()
            with pytest.raises(LogUnavailableError):
                await w.produce([ProduceRequest(0, b"t", b"v")])
            assert time.monotonic() - t0 < cfg.write_timeout + 1.0
        finally:
            w.cfg.write_timeout = 0.5  # don't wait long flushing the undeliverable record
            await w.close()

    asyncio.run(body())


def test_open_ingest_log_picks_kafka_when_address_set(broker) -> None:  # type: ignore[no-untyped-def]
    from tidewell.ingest import IngestStorageConfig, close_ingest_log, open_ingest_log

    cfg = IngestStorageConfig()
    cfg.kafka = _cfg(broker.address)

    async def body() -> None:
        writer, reader = await open_ingest_log(cfg, "/nonexistent")
        assert isinstance(writer, KafkaWriter) and isinstance(reader, KafkaReader)
        assert await writer.produce([ProduceRequest(0, b"t", b"v")]) == [0]
        assert [r.value for r in await reader.fetch(0, 0, 10, 5.0)] == [b"v"]
        await close_ingest_log(writer, reader)

    asyncio.run(body())


def test_concurrent_end_offset_calls_share_probes(broker) -> None:  # type: ignore[no-untyped-def]
    cfg = _cfg(broker.address)

    async def body() -> None:
        w = await open_kafka_writer(cfg)
        r = KafkaReader(cfg)
        try:
            await w.produce([ProduceRequest(0, b"t", b"v") for _ in range(300)])
            probes = metric_value(LAST_PRODUCED_OFFSET_REQUESTS, "0")
            ends = await asyncio.gather(*(r.end_offset(0) for _ in range(20)))
            assert ends == [300] * 20
            # 20 callers, at most a couple of probes
            assert 1 <= metric_value(LAST_PRODUCED_OFFSET_REQUESTS, "0") - probes <= 3
            await w.produce([ProduceRequest(0, b"t", b"v")])
            assert await r.end_offset(0) == 301  # a later call never gets a stale answer
        finally:
            await w.close()
            await r.close()

    asyncio.run(body())


def test_offsets_of_a_just_created_topic_wait_for_its_leaders(broker) -> None:  # type: ignore[no-untyped-def]
    """Another process creates the topic as an ingester starts: Apache Kafka answers
    NOT_LEADER_FOR_PARTITION (or UNKNOWN_TOPIC_OR_PART) for a moment; the reader waits."""
    cfg = _cfg(broker.address)
    admin = AdminClient({"bootstrap.servers": broker.address})

    async def body() -> None:
        r = KafkaReader(cfg, request_timeout_s=10.0)
        try:
            admin.create_topics([NewTopic(cfg.topic, num_partitions=8, replication_factor=1)])
            ends = await asyncio.gather(*(r.end_offset(p) for p in range(8)))
            assert ends == [0] * 8
            starts = await asyncio.gather(*(r.offset_for_timestamp(p, 0) for p in range(8)))
            assert starts == [0] * 8
        finally:
            await r.close()

    asyncio.run(body())
