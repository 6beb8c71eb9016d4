"""A real corrupt record in the log (embedded and Apache Kafka) is retried, skipped
loudly and counted; the records around it are stored and consumption goes on."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from tidewell.ingest.config import KafkaConfig
from tidewell.ingest.consumer import MAX_RECORD_ATTEMPTS
from tidewell.ingest.embedded.log import EmbeddedLog
from tidewell.ingest.kafka import KafkaReader, open_kafka_writer
from tidewell.ingest.log import ProduceRequest
from tidewell.model import Labels

from .conftest import new_ingester, record

pytestmark = [pytest.mark.timeout(120), pytest.mark.anyio]

A = Labels.from_dict({"__name__": "a"})


async def _open(backend: str, tmp_path: Path, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    if backend == "embedded":
        log = EmbeddedLog(str(tmp_path / "log"), 1, group_commit_window=0.0)
        return log, log, log.close
    broker = request.getfixturevalue("broker_of")(backend)
    cfg = KafkaConfig(address=broker.address, topic=f"poison-{uuid.uuid4().hex[:8]}",
                      auto_create_topic_default_partitions=1)
    writer = await open_kafka_writer(cfg)
    reader = KafkaReader(cfg, request_timeout_s=10.0)

    async def close() -> None:
        await writer.close()
        await reader.close()

    return writer, reader, close


@pytest.mark.parametrize("backend", ["embedded", "kafka"])
async def test_corrupt_record_is_skipped_after_bounded_retries(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer, reader, close = await _open(backend, tmp_path, request)
    skipped = REGISTRY.get_sample_value(
        "tidewell_ingest_storage_reader_records_skipped_total",
        {"partition": "0", "cause": "decode"}) or 0
    try:
        await writer.produce([record(0, "t1", [(A, 1000, 1.0)])])
        # A version-1 record whose value is not a snappy write request: what a bug in
        # a producer or a damaged broker would leave behind.
        (bad,) = await writer.produce([ProduceRequest(0, b"t1", b"\x0a\xff\xff\xff\x0fjunk", 1)])
        (last,) = await writer.produce([record(0, "t1", [(A, 2000, 2.0)])])
        ing = new_ingester(reader, str(tmp_path / "ing"), "ingester-zone-a-0", max_lag=0)
        with caplog.at_level(logging.ERROR, logger="tidewell.ingest.consumer"):
            await ing.start()
            try:
                await ing.wait_for_offset(last, 30)
                got = {s.labels: s.timestamps.tolist()
                       for s in ing.querier("t1", 0, 10**12).select([])}
                assert got == {A: [1000, 2000]}
            finally:
                await ing.stop()
        assert REGISTRY.get_sample_value(
            "tidewell_ingest_storage_reader_records_skipped_total",
            {"partition": "0", "cause": "decode"}) == skipped + 1
        (err,) = [r for r in caplog.records if "skipping a record" in r.getMessage()]
        fields = err.fields  # type: ignore[attr-defined]
        assert (fields["offset"], fields["attempt"], fields["stage"]) == (
            bad, MAX_RECORD_ATTEMPTS, "decode")
        assert "Traceback" in fields["traceback"]
    finally:
        await close()
