"""The ingester over a real embedded log: consuming, offsets, restarts, errors, positions."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import struct
from pathlib import Path

import google_crc32c
import pytest
from prometheus_client import REGISTRY

from tidewell.ingester import ReadConsistencyTimeoutError, StaticLimits, partition_of
from tidewell.model import Labels
from tidewell.tsdb.head import Reason

from .conftest import new_ingester, new_log, record

pytestmark = [pytest.mark.timeout(30), pytest.mark.anyio]

A = Labels.from_dict({"__name__": "up", "job": "a"})
B = Labels.from_dict({"__name__": "up", "job": "b"})
P = 3


def dump(ing, tenant: str = "t1") -> dict[Labels, list[tuple[int, float]]]:
    return {
        s.labels: list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
        for s in ing.querier(tenant, 0, 10**12).select([])
    }


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_partition_comes_from_instance_id() -> None:
    assert partition_of("ingester-zone-a-7") == 7
    assert partition_of("ingester-12") == 12
    with pytest.raises(ValueError, match="instance-id"):
        partition_of("ingester")


async def test_consumes_queries_and_commits(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="tidewell.ingester")
    caplog.set_level(logging.DEBUG, logger="tidewell.ingest.consumer")
    log = new_log(str(tmp_path / "log"))
    await log.produce([record(P, "t1", [(A, 1000, 1.0), (B, 1000, 5.0)])])
    await log.produce([record(P, "t2", [(A, 1000, 9.0)]), record(0, "t1", [(A, 7, 7.0)])])
    commits_before = metric("cortex_ingest_storage_reader_offset_commit_requests_total",
                            partition=str(P))
    requests_before = metric("cortex_ingest_storage_reader_requests_total")
    delays_before = metric("cortex_ingest_storage_reader_receive_delay_seconds_count",
                           phase="starting")
    ing = new_ingester(log, str(tmp_path / "ing"))
    await ing.start()
    assert ing.ready() == (True, "")
    assert dump(ing) == {A: [(1000, 1.0)], B: [(1000, 5.0)]}
    assert dump(ing, "t2") == {A: [(1000, 9.0)]}
    assert dump(ing, "nobody") == {}
    await log.produce([record(P, "t1", [(A, 2000, 2.0)])])
    await ing.wait_strong(5)
    assert dump(ing)[A] == [(1000, 1.0), (2000, 2.0)]
    for _ in range(200):  # committed by the background loop, no stop needed
        if metric("cortex_ingest_storage_reader_last_committed_offset", partition=str(P)) == 2:
            break
        await asyncio.sleep(0.02)
    assert await log.committed("ingester-zone-a-3", P) == 3
    assert metric("cortex_ingest_storage_reader_last_committed_offset", partition=str(P)) == 2
    commits = [getattr(r, "fields", None) for r in caplog.records if r.msg == "committed offset"]
    assert commits[-1] == {"partition": P, "offset": 2}
    assert all(r.levelno == logging.DEBUG for r in caplog.records
               if r.msg == "committed offset")
    assert metric("cortex_ingest_storage_reader_requests_total") == requests_before + 3
    assert metric("cortex_ingest_storage_reader_receive_delay_seconds_count",
                  phase="starting") == delays_before + 2
    assert metric("cortex_ingester_memory_series") >= 3
    assert metric("cortex_ingester_memory_users") >= 2
    assert metric("cortex_ingest_storage_reader_last_consumed_offset", partition=str(P)) == 2
    assert metric("cortex_ingest_storage_reader_offset_commit_requests_total",
                  partition=str(P)) > commits_before
    await ing.stop()
    await ing.stop()  # idempotent
    await log.close()


@pytest.mark.parametrize("snapshot", [True, False], ids=["snapshot", "wal-replay"])
async def test_restart_restores_exactly_the_same_head(tmp_path: Path, snapshot: bool) -> None:
    log = new_log(str(tmp_path / "log"))
    series = [Labels.from_dict({"__name__": "m", "i": str(i)}) for i in range(50)]
    for k in range(30):
        await log.produce([record(P, "t1", [(s, k * 1000, float(k + i)) for i, s in
                                            enumerate(series)])])
    ing = new_ingester(log, str(tmp_path / "ing"), snapshot_on_shutdown=snapshot)
    await ing.start()
    before = dump(ing)
    assert sum(len(v) for v in before.values()) == 1500
    await ing.stop()
    snaps = tmp_path / "ing" / "tsdb" / "snapshots"
    assert (len(os.listdir(snaps)) == 1) if snapshot else not snaps.exists()
    # The log moves on while the ingester is down; the restart resumes after its own state.
    await log.produce([record(P, "t1", [(series[0], 99_000, 1.0)])])
    ing = new_ingester(log, str(tmp_path / "ing"), snapshot_on_shutdown=snapshot)
    await ing.start()
    after = dump(ing)
    assert after[series[0]] == [*before[series[0]], (99_000, 1.0)]
    assert {k: v for k, v in after.items() if k != series[0]} == {
        k: v for k, v in before.items() if k != series[0]
    }
    await ing.stop()
    await log.close()


@pytest.mark.parametrize("wal_size", [64 << 10, 0], ids=["by-wal-size", "disabled"])
async def test_snapshot_once_enough_wal_was_written(tmp_path: Path, wal_size: int) -> None:
    """A fast catch-up snapshots by WAL size (bounding a crash's replay); restart is exact."""
    log = new_log(str(tmp_path / "log"))
    series = [Labels.from_dict({"__name__": "m", "i": str(i)}) for i in range(2000)]
    for k in range(40):  # ~9 KiB per record in the WAL (zstd): ~360 KiB in all
        await log.produce([record(P, "t1", [(s, k * 1000, float(k * i)) for i, s in
                                            enumerate(series)])])
    ing = new_ingester(log, str(tmp_path / "ing"), snapshot_on_shutdown=False,
                       tsdb_settings={"memory_snapshot_wal_size_bytes": wal_size})
    await ing.start()
    assert ing.wal.appended_bytes > 2 * (64 << 10)
    snaps = tmp_path / "ing" / "tsdb" / "snapshots"
    if wal_size:
        (snap,) = os.listdir(snaps)
        assert 0 < int(snap.rsplit("-", 1)[1]) <= 40
    else:
        assert not snaps.exists()
    await ing.stop()
    ing = new_ingester(log, str(tmp_path / "ing"))
    await ing.start()
    got = dump(ing)
    assert len(got) == 2000 and all(len(v) == 40 for v in got.values())
    await ing.stop()
    await log.close()


async def test_wal_of_raw_records_from_an_older_version_is_replayed(tmp_path: Path) -> None:
    """An upgrade keeps what the old WAL held beyond the committed offset."""
    log = new_log(str(tmp_path / "log"))
    for k in range(5):
        await log.produce([record(P, "t1", [(A, k * 1000, float(k)), (B, k * 1000, 1.0)])])
    wal_dir = tmp_path / "ing" / "tsdb" / "wal"
    wal_dir.mkdir(parents=True)
    entries = b""
    for r in await log.fetch(P, 0, 100, 0.1):
        payload = struct.pack("<qqHH", r.offset, r.timestamp_ms, r.version, len(r.key))
        payload += r.key + r.value
        entries += struct.pack("<II", google_crc32c.value(payload), len(payload)) + payload
    (wal_dir / "00000001").write_bytes(entries)
    # Consuming from the end proves the samples come from the WAL, not the log.
    ing = new_ingester(log, str(tmp_path / "ing"), consume_from_position_at_startup="end")
    await ing.start()
    assert dump(ing) == {A: [(k * 1000, float(k)) for k in range(5)],
                         B: [(k * 1000, 1.0) for k in range(5)]}
    await ing.stop()
    await log.close()


async def test_torn_wal_tail_is_cut_and_record_consumed_again(tmp_path: Path) -> None:
    log = new_log(str(tmp_path / "log"))
    for k in range(5):
        await log.produce([record(P, "t1", [(A, k * 1000, float(k))])])
    ing = new_ingester(log, str(tmp_path / "ing"), snapshot_on_shutdown=False)
    await ing.start()
    await ing.stop()
    wal_dir = tmp_path / "ing" / "tsdb" / "wal"
    seg = wal_dir / sorted(os.listdir(wal_dir))[-1]
    data = seg.read_bytes()
    seg.write_bytes(data[:-7])  # a crash in the middle of the last entry
    ing = new_ingester(log, str(tmp_path / "ing"))
    await ing.start()
    assert dump(ing) == {A: [(k * 1000, float(k)) for k in range(5)]}
    await ing.stop()
    await log.close()


async def test_client_errors_counted_and_poison_records_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Rejected samples are counted and skipped at once (Mimir's soft errors); records
    that cannot be decoded are skipped at their first failure (as Mimir) with an ERROR
    log (offset, traceback) and counted: the partition never wedges."""
    log = new_log(str(tmp_path / "log"))
    failed = metric("cortex_ingest_storage_reader_requests_failed_total", cause="client")
    server = metric("cortex_ingest_storage_reader_requests_failed_total", cause="server")
    skipped = metric("tidewell_ingest_storage_reader_records_skipped_total",
                     partition=str(P), cause="decode")
    ooo = metric("cortex_discarded_samples_total", reason=Reason.OUT_OF_ORDER.value, user="t1")
    await log.produce([record(P, "t1", [(A, 5000, 1.0)])])
    await log.produce([record(P, "t1", [(A, 1000, 1.0)])])  # out of order
    from tidewell.ingest.log import ProduceRequest

    await log.produce([ProduceRequest(P, b"t1", b"\xff\xff garbage", 1)])  # undecodable
    await log.produce([ProduceRequest(P, b"t1", b"", 99)])  # unknown version
    await log.produce([record(P, "t1", [(A, 6000, 2.0)])])
    ing = new_ingester(log, str(tmp_path / "ing"))
    with caplog.at_level(logging.ERROR, logger="tidewell.ingest.consumer"):
        await ing.start()
    assert dump(ing) == {A: [(5000, 1.0), (6000, 2.0)]}
    assert ing.consumed_offset == 5
    assert metric("cortex_ingest_storage_reader_requests_failed_total", cause="client") == (
        failed + 1
    )
    assert metric("cortex_ingest_storage_reader_requests_failed_total", cause="server") == (
        server + 2  # one attempt each
    )
    assert metric("tidewell_ingest_storage_reader_records_skipped_total",
                  partition=str(P), cause="decode") == skipped + 2
    assert metric("cortex_discarded_samples_total", reason="sample-out-of-order",
                  user="t1") == ooo + 1
    errors = [r for r in caplog.records if "skipping a record" in r.getMessage()]
    assert [(r.fields["offset"], r.fields["attempt"])  # type: ignore[attr-defined]
            for r in errors] == [(2, 1), (3, 1)]
    assert all("Traceback" in r.fields["traceback"] for r in errors)  # type: ignore[attr-defined]
    await ing.stop()
    await log.close()


async def test_server_errors_are_retried_never_skipped(tmp_path: Path) -> None:
    log = new_log(str(tmp_path / "log"))
    ing = new_ingester(log, str(tmp_path / "ing"), max_lag=0)
    await ing.start()
    server = metric("cortex_ingest_storage_reader_requests_failed_total", cause="server")
    # The WAL's next segment path is a directory: every write fails (EISDIR) until fixed.
    blocker = tmp_path / "ing" / "tsdb" / "wal" / "00000001"
    blocker.mkdir(parents=True)
    await log.produce([record(P, "t1", [(A, 1000, 1.0)])])
    for _ in range(200):
        if metric("cortex_ingest_storage_reader_requests_failed_total", cause="server") > server:
            break
        await asyncio.sleep(0.01)
    assert dump(ing) == {}
    assert ing.consumed_offset == 0
    shutil.rmtree(blocker)
    await ing.wait_until_caught_up(1, timeout=10)
    assert dump(ing) == {A: [(1000, 1.0)]}
    await ing.stop()
    await log.close()


@pytest.mark.parametrize(
    ("position", "want"),
    [("start", [1000, 2000, 3000]), ("end", []), ("timestamp", [3000]),
     ("last-offset", [2000, 3000])],
)
async def test_startup_positions(tmp_path: Path, position: str, want: list[int]) -> None:
    log = new_log(str(tmp_path / "log"))
    await log.produce([record(P, "t1", [(A, 1000, 1.0)])])
    await log.produce([record(P, "t1", [(A, 2000, 1.0)])])
    await asyncio.sleep(0.01)
    cut_ms = (await log.fetch(P, 1, 1, 0))[0].timestamp_ms + 1
    while (await log.produce([record(P, "t1", [(A, 3000, 1.0)])])) and (
        (await log.fetch(P, 2, 1, 0))[0].timestamp_ms < cut_ms
    ):  # pragma: no cover - only if the clock did not move
        await asyncio.sleep(0.01)
    await log.commit("ingester-zone-a-3", P, 1)
    ing = new_ingester(
        log, str(tmp_path / "ing"),
        consume_from_position_at_startup=position, consume_from_timestamp_at_startup=cut_ms,
    )
    await ing.start()
    got = dump(ing).get(A, [])
    assert [t for t, _ in got] == want
    await ing.stop()
    await log.close()


async def test_series_limit_is_the_partition_share(tmp_path: Path) -> None:
    log = new_log(str(tmp_path / "log"))
    series = [Labels.from_dict({"__name__": "m", "i": str(i)}) for i in range(10)]
    await log.produce([record(P, "t1", [(s, 1000, 1.0) for s in series])])
    ing = new_ingester(log, str(tmp_path / "ing"), limits=StaticLimits(max_series=8))
    ing.partition_count = lambda: 2
    await ing.start()
    assert len(dump(ing)) == 4
    await ing.stop()
    await log.close()


async def test_strong_read_times_out_when_offset_never_arrives(tmp_path: Path) -> None:
    log = new_log(str(tmp_path / "log"))
    ing = new_ingester(log, str(tmp_path / "ing"))
    await ing.start()
    with pytest.raises(ReadConsistencyTimeoutError, match="wait-strong-read-consistency"):
        await ing.wait_until_caught_up(5, timeout=0.1)
    await ing.stop()
    await log.close()


async def test_corrupt_wal_segment_stops_replay_and_log_fills_the_gap(tmp_path: Path) -> None:
    log = new_log(str(tmp_path / "log"))
    for k in range(40):
        await log.produce([record(P, "t1", [(A, k * 1000, float(k))])])
    ing = new_ingester(log, str(tmp_path / "ing"), snapshot_on_shutdown=False)
    ing.wal.segment_size = 1024  # several segments: 5 records per fetch, one append each
    ing.consumer.fetch_max_records = 5
    await ing.start()
    await ing.stop()
    wal_dir = tmp_path / "ing" / "tsdb" / "wal"
    segs = sorted(os.listdir(wal_dir))
    assert len(segs) >= 3
    first = wal_dir / segs[0]
    data = bytearray(first.read_bytes())
    data[len(data) // 2] ^= 0xFF  # flip a byte in the middle of the oldest segment
    first.write_bytes(bytes(data))
    ing = new_ingester(log, str(tmp_path / "ing"))
    await ing.start()
    assert dump(ing) == {A: [(k * 1000, float(k)) for k in range(40)]}
    assert len(os.listdir(wal_dir)) < len(segs) + 1
    await ing.stop()
    await log.close()
