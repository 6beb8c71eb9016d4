"""Real corrupt records in the log (embedded and Apache Kafka) are skipped at once,
loudly and counted; the records around them are stored, consumption goes on, and
the committed offset passes a skipped record even when nothing follows it, so a
restart (with or without local state) does not fetch it again."""

from __future__ import annotations

import asyncio
import logging
import shutil
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from tidewell.ingest.log import ProduceRequest
from tidewell.model import Labels

from .conftest import LogOpener, new_ingester, record

pytestmark = [pytest.mark.timeout(120), pytest.mark.anyio]

A = Labels.from_dict({"__name__": "a"})


def skipped() -> float:
    return REGISTRY.get_sample_value(
        "tidewell_ingest_storage_reader_records_skipped_total",
        {"partition": "0", "cause": "decode"}) or 0.0


def skip_logs(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "skipping a record" in r.getMessage()]


# A version-1 record whose value is not a snappy write request: what a bug in a
# producer or a damaged broker would leave behind.
CORRUPT = b"\x0a\xff\xff\xff\x0fjunk"


@pytest.mark.parametrize("backend", ["embedded", "kafka"])
async def test_corrupt_records_are_skipped_at_once_and_committed_past(
    backend: str, tmp_path: Path, open_log: LogOpener,
    caplog: pytest.LogCaptureFixture,
) -> None:
    writer, reader, close = await open_log(backend, "poison")
    before = skipped()
    data = tmp_path / "ing"

    async def run_ingester(until: int) -> dict[Labels, list[int]]:
        ing = new_ingester(reader, str(data), "ingester-zone-a-0", max_lag=0)
        await ing.start()
        try:
            await ing.wait_for_offset(until, 30)
            for _ in range(200):  # the commit timer runs every 50 ms
                if await reader.committed(ing.group, 0) == until + 1:
                    break
                await asyncio.sleep(0.05)
            assert await reader.committed(ing.group, 0) == until + 1
            return {s.labels: s.timestamps.tolist()
                    for s in ing.querier("t1", 0, 10**12).select([])}
        finally:
            await ing.stop()

    try:
        await writer.produce([record(0, "t1", [(A, 1000, 1.0)])])
        (bad1,) = await writer.produce([ProduceRequest(0, b"t1", CORRUPT, 1)])
        await writer.produce([record(0, "t1", [(A, 2000, 2.0)])])
        (bad2,) = await writer.produce([ProduceRequest(0, b"t1", CORRUPT, 1)])  # the last
        with caplog.at_level(logging.ERROR, logger="tidewell.ingest.consumer"):
            assert await run_ingester(bad2) == {A: [1000, 2000]}
        assert skipped() == before + 2
        errs = skip_logs(caplog)
        assert [(r.fields["offset"], r.fields["attempt"], r.fields["stage"])  # type: ignore[attr-defined]
                for r in errs] == [(bad1, 1, "decode"), (bad2, 1, "decode")]
        assert all("Traceback" in r.fields["traceback"] for r in errs)  # type: ignore[attr-defined]
        assert "cannot be decoded" in errs[0].getMessage()

        # Restart from local state, then from the committed offset alone (disk
        # replaced): neither fetches the skipped records again.
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="tidewell.ingest.consumer"):
            assert await run_ingester(bad2) == {A: [1000, 2000]}
            shutil.rmtree(data)
            assert await run_ingester(bad2) == {}  # nothing after the committed offset
        assert skip_logs(caplog) == []
        assert skipped() == before + 2
    finally:
        await close()
