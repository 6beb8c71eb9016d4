"""Records the ingester cannot take: retried with backoff, then skipped loudly.

A failure that goes away (the second attempt works) loses nothing; one that
never does is skipped after ``MAX_RECORD_ATTEMPTS`` with an ERROR log and a
count, and consumption goes on. Series the failed attempt created are logged
to the WAL, so a restart replays to the same head.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from tidewell.ingest.consumer import MAX_RECORD_ATTEMPTS
from tidewell.ingester.limits import LocalLimits
from tidewell.model import Labels
from tidewell.tsdb.head import Head

from .conftest import new_ingester, new_log, record

pytestmark = [pytest.mark.timeout(60), pytest.mark.anyio]

P = 3
A = Labels.from_dict({"__name__": "a"})
POISON = Labels.from_dict({"__name__": "poison"})


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def dump(ing) -> dict[Labels, list[int]]:  # type: ignore[no-untyped-def]
    return {s.labels: s.timestamps.tolist() for s in ing.querier("t1", 0, 10**12).select([])}


async def test_a_failure_that_goes_away_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = new_log(str(tmp_path / "log"))
    real = LocalLimits.max_series
    calls = 0

    def flaky(self: LocalLimits, tenant: str) -> int:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise RuntimeError("limits briefly broken")
        return real(self, tenant)

    monkeypatch.setattr(LocalLimits, "max_series", flaky)
    skipped = metric("tidewell_ingest_storage_reader_records_skipped_total",
                     partition=str(P), cause="apply")
    await log.produce([record(P, "t1", [(A, 1000, 1.0)])])
    await log.produce([record(P, "t1", [(A, 2000, 1.0)])])
    ing = new_ingester(log, str(tmp_path / "ing"))
    await ing.start()
    await ing.wait_for_offset(1, 10)
    assert dump(ing) == {A: [1000, 2000]}
    assert calls >= 4
    assert metric("tidewell_ingest_storage_reader_records_skipped_total",
                  partition=str(P), cause="apply") == skipped
    await ing.stop()
    await log.close()


async def test_a_record_that_always_fails_is_skipped_and_replay_still_lines_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The poison record creates a series, then resolving it fails (a bug)."""
    log = new_log(str(tmp_path / "log"))
    real = Head.resolve

    def buggy(self: Head, batch, **kw):  # type: ignore[no-untyped-def]
        out = real(self, batch, **kw)
        if POISON in list(batch.labels):
            raise KeyError("resolver bug")
        return out

    monkeypatch.setattr(Head, "resolve", buggy)
    skipped = metric("tidewell_ingest_storage_reader_records_skipped_total",
                     partition=str(P), cause="apply")
    await log.produce([record(P, "t1", [(A, 1000, 1.0)])])
    await log.produce([record(P, "t1", [(POISON, 1500, 1.0), (A, 1500, 7.0)])])
    (last,) = await log.produce([record(P, "t1", [(A, 2000, 1.0)])])
    ing = new_ingester(log, str(tmp_path / "ing"), snapshot_on_shutdown=False)
    with caplog.at_level(logging.ERROR, logger="tidewell.ingest.consumer"):
        await ing.start()
        await ing.wait_for_offset(last, 20)
    assert dump(ing) == {A: [1000, 2000]}  # the poison record's samples are not stored
    assert metric("tidewell_ingest_storage_reader_records_skipped_total",
                  partition=str(P), cause="apply") == skipped + 1
    (err,) = [r for r in caplog.records if "skipping a record" in r.getMessage()]
    fields = err.fields  # type: ignore[attr-defined]
    assert (fields["offset"], fields["partition"], fields["attempt"]) == (1, P, MAX_RECORD_ATTEMPTS)
    assert "KeyError: 'resolver bug'" in fields["traceback"]
    head = ing.tenant_tsdb("t1").head  # type: ignore[union-attr]
    series_before = head.num_series
    await ing.stop()

    # Restart from the WAL alone (no snapshot): the series the failed attempts created
    # were logged, so replay reaches the same refs and consumption resumes after it.
    monkeypatch.setattr(Head, "resolve", real)
    ing = new_ingester(log, str(tmp_path / "ing"))
    await ing.start()
    assert ing.consumed_offset == last + 1
    assert dump(ing) == {A: [1000, 2000]}
    assert ing.tenant_tsdb("t1").head.num_series == series_before  # type: ignore[union-attr]
    await ing.stop()
    await log.close()


async def test_a_skipped_last_record_is_committed_past_and_not_retried_after_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing follows the poison record: the skip itself moves the committed offset."""
    log = new_log(str(tmp_path / "log"))
    real = Head.resolve

    def buggy(self: Head, batch, **kw):  # type: ignore[no-untyped-def]
        if POISON in list(batch.labels):
            raise KeyError("resolver bug")
        return real(self, batch, **kw)

    monkeypatch.setattr(Head, "resolve", buggy)
    await log.produce([record(P, "t1", [(A, 1000, 1.0)])])
    (bad,) = await log.produce([record(P, "t1", [(POISON, 1500, 1.0)])])
    ing = new_ingester(log, str(tmp_path / "ing"), snapshot_on_shutdown=False)
    with caplog.at_level(logging.ERROR, logger="tidewell.ingest.consumer"):
        await ing.start()
        await ing.wait_for_offset(bad, 20)
    assert [r.fields["attempt"] for r in caplog.records  # type: ignore[attr-defined]
            if "skipping a record that failed every attempt" in r.getMessage()] == [
        MAX_RECORD_ATTEMPTS]
    await ing.stop()
    assert await log.committed(ing.group, P) == bad + 1

    caplog.clear()
    skipped = metric("tidewell_ingest_storage_reader_records_skipped_total",
                     partition=str(P), cause="apply")
    ing = new_ingester(log, str(tmp_path / "ing"))  # the WAL alone: no snapshot was written
    with caplog.at_level(logging.WARNING, logger="tidewell.ingest.consumer"):
        await ing.start()
        await asyncio.sleep(0.3)  # several empty fetches: the record is not fetched again
    assert ing.consumed_offset == bad + 1
    assert dump(ing) == {A: [1000]}
    assert [r for r in caplog.records if "record" in r.getMessage()] == []
    assert metric("tidewell_ingest_storage_reader_records_skipped_total",
                  partition=str(P), cause="apply") == skipped
    await ing.stop()
    await log.close()
