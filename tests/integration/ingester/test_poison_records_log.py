"""A real corrupt record in the log (embedded and Apache Kafka) is retried, skipped
loudly and counted; the records around it are stored and consumption goes on."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from tidewell.ingest.consumer import MAX_RECORD_ATTEMPTS
from tidewell.ingest.log import ProduceRequest
from tidewell.model import Labels

from .conftest import LogOpener, new_ingester, record

pytestmark = [pytest.mark.timeout(120), pytest.mark.anyio]

A = Labels.from_dict({"__name__": "a"})


@pytest.mark.parametrize("backend", ["embedded", "kafka"])
async def test_corrupt_record_is_skipped_after_bounded_retries(
    backend: str, tmp_path: Path, open_log: LogOpener,
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer, reader, close = await open_log(backend, "poison")
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
