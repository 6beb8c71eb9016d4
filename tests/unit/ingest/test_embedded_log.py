"""Embedded log: durability across reopen, torn tails, segments, retention, group commit."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.metrics import metric_value
from tidewell.ingest.config import IngestStorageConfig
from tidewell.ingest.embedded import EmbeddedLog, LogCorruptionError, open_embedded_log
from tidewell.ingest.embedded.segment import FRAME_OVERHEAD
from tidewell.ingest.log import LogError, LogUnavailableError, ProduceRequest
from tidewell.ingest.metrics import (
    EMBEDDED_FSYNCS,
    EMBEDDED_TRUNCATED_BYTES,
    RECORDS_ENQUEUED,
    RECORDS_FAILED,
)
from tidewell.ingest.record import RecordTooLargeError

pytestmark = pytest.mark.timeout(60)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coro, 30))


def _segments(d: Path, partition: int = 0) -> list[Path]:
    return sorted((d / f"partition-{partition:05d}").glob("*.log"))


async def _fill(d: Path, n: int, size: int = 100, **kw: object) -> list[bytes]:
    log = EmbeddedLog(str(d), **kw)  # type: ignore[arg-type]
    values = [f"{i:06d}".encode() * (size // 6) for i in range(n)]
    for v in values:
        await log.produce([ProduceRequest(0, b"tenant", v)])
    await log.close()
    return values


async def _read_all(log: EmbeddedLog, partition: int = 0) -> list[bytes]:
    out, offset = [], await log.start_offset(partition)
    end = await log.end_offset(partition)
    while offset < end:
        batch = await log.fetch(partition, offset, 1000, 0)
        out.extend(r.value for r in batch)
        offset = batch[-1].offset + 1
    return out


def test_reopen_keeps_records_and_committed_offsets(tmp_path: Path) -> None:
    async def body() -> None:
        log = EmbeddedLog(str(tmp_path), partitions=2)
        await log.produce([ProduceRequest(1, b"t", b"one"), ProduceRequest(1, b"t", b"two")])
        await log.commit("ingester-0", 1, 1)
        await log.close()
        log = EmbeddedLog(str(tmp_path), partitions=2)
        assert await log.end_offset(1) == 2
        assert await _read_all(log, 1) == [b"one", b"two"]
        assert await log.committed("ingester-0", 1) == 1
        assert await log.produce([ProduceRequest(1, b"t", b"three")]) == [2]
        await log.close()

    run(body())


@pytest.mark.parametrize(
    "damage",
    ["cut-mid-frame", "cut-mid-header", "garbage-appended", "zeros-appended", "crc-flipped"],
)
def test_torn_tail_is_truncated_on_open(tmp_path: Path, damage: str) -> None:
    values = run(_fill(tmp_path, 10))
    seg = _segments(tmp_path)[-1]
    size = seg.stat().st_size
    frame = FRAME_OVERHEAD + len(b"tenant") + len(values[-1])
    with open(seg, "r+b") as f:
        if damage == "cut-mid-frame":
            f.truncate(size - 7)
        elif damage == "cut-mid-header":
            f.truncate(size - frame + 5)
        elif damage == "garbage-appended":
            f.seek(size)
            f.write(os.urandom(333))
        elif damage == "zeros-appended":
            f.seek(size)
            f.write(b"\0" * 4096)  # what a crash after a file-size update can leave
        else:
            f.seek(size - 3)
            f.write(b"XYZ")
    survivors = 10 if damage.endswith("appended") else 9
    before = metric_value(EMBEDDED_TRUNCATED_BYTES)

    async def body() -> None:
        log = EmbeddedLog(str(tmp_path))
        assert await log.end_offset(0) == survivors
        assert await _read_all(log) == values[:survivors]
        assert await log.produce([ProduceRequest(0, b"t", b"next")]) == [survivors]
        await log.close()
        log = EmbeddedLog(str(tmp_path))
        assert (await _read_all(log))[-1] == b"next"
        await log.close()

    run(body())
    assert metric_value(EMBEDDED_TRUNCATED_BYTES) > before
    assert seg.stat().st_size == (survivors * frame) + FRAME_OVERHEAD + 1 + 4


def test_segments_roll_and_sealed_ones_get_an_index(tmp_path: Path) -> None:
    values = run(_fill(tmp_path, 120, size=200, segment_size_bytes=4096))
    segs = _segments(tmp_path)
    assert len(segs) > 3
    for s in segs[:-1]:
        assert s.with_suffix(".index").exists()
    assert int(segs[1].stem) > 0  # named by base offset

    async def body() -> None:
        log = EmbeddedLog(str(tmp_path), segment_size_bytes=4096)
        assert await _read_all(log) == values
        # records across a segment boundary come back in one fetch
        boundary = int(segs[1].stem)
        got = await log.fetch(0, boundary - 2, 4, 0)
        assert [r.offset for r in got] == list(range(boundary - 2, boundary + 2))
        await log.close()

    run(body())


def test_sealed_segment_corruption_is_detected(tmp_path: Path) -> None:
    run(_fill(tmp_path, 60, size=200, segment_size_bytes=4096))
    first = _segments(tmp_path)[0]
    with open(first, "r+b") as f:
        f.seek(1000)
        f.write(b"!!!!")

    async def read_with_index() -> None:
        log = EmbeddedLog(str(tmp_path), segment_size_bytes=4096)
        with pytest.raises(LogCorruptionError, match="CRC"):
            await _read_all(log)
        await log.close()

    run(read_with_index())
    first.with_suffix(".index").unlink()  # now opening must scan it
    with pytest.raises(LogCorruptionError, match="sealed segment"):
        EmbeddedLog(str(tmp_path), segment_size_bytes=4096)


def test_retention_by_size_deletes_oldest_segments(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def body() -> None:
        log = EmbeddedLog(str(tmp_path), segment_size_bytes=4096, retention_bytes=3 * 4096)
        for i in range(200):
            await log.produce([ProduceRequest(0, b"t", b"%06d" % i + b"x" * 200)])
        await log.commit("slow-ingester", 0, 3)
        with caplog.at_level(logging.WARNING, logger="tidewell.ingest.embedded"):
            deleted = await log.enforce_retention()
        assert deleted > 0
        start = await log.start_offset(0)
        assert start > 3
        assert await log.end_offset(0) == 200
        assert sum(p.stat().st_size for p in _segments(tmp_path)) <= 3 * 4096 + 4096 + 300
        got = await log.fetch(0, 0, 1, 0)  # before the start: served from the start
        assert got[0].offset == start and got[0].value.startswith(b"%06d" % start)
        assert any("slow-ingester" in str(getattr(r, "fields", "")) for r in caplog.records)
        await log.close()
        log = EmbeddedLog(str(tmp_path), segment_size_bytes=4096)
        assert await log.start_offset(0) == start
        assert len(await _read_all(log)) == 200 - start
        await log.close()

    run(body())


def test_retention_by_age_keeps_the_active_segment(tmp_path: Path) -> None:
    async def body() -> None:
        log = EmbeddedLog(str(tmp_path), segment_size_bytes=4096, retention_period=3600)
        for _ in range(100):
            await log.produce([ProduceRequest(0, b"t", b"x" * 200)])
        assert await log.enforce_retention() == 0  # nothing is an hour old yet
        now = await log.fetch(0, 99, 1, 0)
        sealed = len(_segments(tmp_path)) - 1
        assert sealed >= 3
        assert await log.enforce_retention(now[0].timestamp_ms + 3600_001) == sealed
        assert len(_segments(tmp_path)) == 1
        assert await log.end_offset(0) == 100
        assert await log.start_offset(0) == int(_segments(tmp_path)[0].stem)
        assert await log.produce([ProduceRequest(0, b"t", b"y")]) == [100]
        await log.close()

    run(body())


def test_concurrent_produces_share_fsyncs(tmp_path: Path) -> None:
    async def body() -> None:
        log = EmbeddedLog(str(tmp_path), group_commit_window=0.002)
        before = metric_value(EMBEDDED_FSYNCS)
        results = await asyncio.gather(
            *(log.produce([ProduceRequest(0, b"t", b"v%d" % i)]) for i in range(64))
        )
        commits = metric_value(EMBEDDED_FSYNCS) - before
        assert sorted(o for (o,) in results) == list(range(64))
        assert 1 <= commits <= 4, commits
        await log.close()

    run(body())


def test_failed_commit_takes_offsets_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def body() -> None:
        log = EmbeddedLog(str(tmp_path))
        await log.produce([ProduceRequest(0, b"t", b"ok-0")])
        real = os.fdatasync

        def failing(fd: int) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "fdatasync", failing)
        with pytest.raises(LogUnavailableError, match="No space left"):
            await log.produce([ProduceRequest(0, b"t", b"lost")])
        monkeypatch.setattr(os, "fdatasync", real)
        assert await log.end_offset(0) == 1
        assert await log.produce([ProduceRequest(0, b"t", b"ok-1")]) == [1]
        await log.close()
        log = EmbeddedLog(str(tmp_path))
        assert await _read_all(log) == [b"ok-0", b"ok-1"]
        await log.close()

    run(body())


def test_rejects_bad_requests_and_second_opener(tmp_path: Path) -> None:
    async def body() -> None:
        log = EmbeddedLog(str(tmp_path), partitions=1, max_record_size_bytes=2048)
        with pytest.raises(LogError, match="partition 3 does not exist"):
            await log.produce([ProduceRequest(3, b"t", b"v")])
        too_large = metric_value(RECORDS_FAILED, "record-too-large")
        enqueued = metric_value(RECORDS_ENQUEUED)
        with pytest.raises(RecordTooLargeError, match="producer-max-record-size-bytes"):
            await log.produce([ProduceRequest(0, b"t", b"x" * 4096)])
        assert metric_value(RECORDS_FAILED, "record-too-large") == too_large + 1
        assert metric_value(RECORDS_ENQUEUED) == enqueued + 1
        with pytest.raises(LogError, match="in use"):
            EmbeddedLog(str(tmp_path))
        assert await log.end_offset(0) == 0
        await log.close()
        with pytest.raises(LogUnavailableError):
            await log.produce([ProduceRequest(0, b"t", b"v")])
        EmbeddedLog(str(tmp_path))  # lock released on close

    run(body())


def test_close_wakes_long_polling_fetch(tmp_path: Path) -> None:
    async def body() -> None:
        log = EmbeddedLog(str(tmp_path))
        task = asyncio.create_task(log.fetch(0, 0, 10, 20.0))
        await asyncio.sleep(0.05)
        await log.close()
        with pytest.raises(LogUnavailableError):
            await asyncio.wait_for(task, 2.0)

    run(body())


def test_open_embedded_log_uses_config(tmp_path: Path) -> None:
    cfg = IngestStorageConfig()
    cfg.embedded.partitions = 3

    async def body() -> None:
        log = open_embedded_log(cfg, str(tmp_path))
        assert log.partitions == 3
        assert log.directory == str(tmp_path / "log")
        await log.produce([ProduceRequest(2, b"t", b"v")])
        await log.close()

    run(body())
    assert (tmp_path / "log" / "partition-00002").is_dir()


def test_open_ingest_log_picks_embedded_by_default(tmp_path: Path) -> None:
    from tidewell.ingest import close_ingest_log, open_ingest_log

    async def body() -> None:
        writer, reader = await open_ingest_log(IngestStorageConfig(), str(tmp_path))
        assert writer is reader and isinstance(writer, EmbeddedLog)
        assert await writer.produce([ProduceRequest(0, b"t", b"v")]) == [0]
        assert [r.value for r in await reader.fetch(0, 0, 10, 0)] == [b"v"]
        await close_ingest_log(writer, reader)

    run(body())


def test_retention_runs_in_the_background(tmp_path: Path) -> None:
    async def body() -> None:
        log = EmbeddedLog(str(tmp_path), segment_size_bytes=4096, retention_period=1.0,
                          retention_check_interval=0.05)
        started = asyncio.get_running_loop().time()
        for _ in range(60):
            await log.produce([ProduceRequest(0, b"t", b"x" * 200)])
        if asyncio.get_running_loop().time() - started < 0.9:  # a loaded machine may be slower
            assert await log.start_offset(0) == 0  # nothing is older than the period yet
        deadline = asyncio.get_running_loop().time() + 10
        while len(_segments(tmp_path)) > 1:
            assert asyncio.get_running_loop().time() < deadline, "retention never ran"
            await asyncio.sleep(0.05)
        assert await log.start_offset(0) == int(_segments(tmp_path)[0].stem) > 0
        assert await log.end_offset(0) == 60
        await log.close()

    run(body())


@pytest.mark.serial  # a wall-clock bound or a race: alone on its core
def test_write_timeout_is_enforced_when_the_disk_hangs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time as _time

    real = os.fdatasync

    def slow(fd: int) -> None:
        _time.sleep(1.0)
        real(fd)

    async def body() -> None:
        log = EmbeddedLog(str(tmp_path), write_timeout=0.2)
        monkeypatch.setattr(os, "fdatasync", slow)
        t0 = _time.monotonic()
        with pytest.raises(LogUnavailableError, match="write-timeout"):
            await log.produce([ProduceRequest(0, b"t", b"late")])
        assert _time.monotonic() - t0 < 0.8
        monkeypatch.setattr(os, "fdatasync", real)
        # like Kafka, a timed-out record may still land (at-least-once) once the disk
        # answers; later produces follow it
        for _ in range(100):
            if await log.end_offset(0) == 1:
                break
            await asyncio.sleep(0.05)
        assert await log.produce([ProduceRequest(0, b"t", b"next")]) == [1]
        assert await _read_all(log) == [b"late", b"next"]
        await log.close()

    run(body())


@settings(max_examples=15, deadline=None)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 2), st.binary(max_size=300)), min_size=1, max_size=8),
        min_size=1,
        max_size=12,
    ),
    st.sets(st.integers(0, 11)),
)
def test_reopen_at_any_point_matches_a_model(batches, reopen_after) -> None:  # type: ignore[no-untyped-def]
    """Random produces with reopen points: the log always equals a list per partition."""
    directory = tempfile.mkdtemp(prefix="tidewell-model-")

    async def body() -> None:
        model: dict[int, list[bytes]] = {0: [], 1: [], 2: []}
        log = EmbeddedLog(directory, partitions=3, segment_size_bytes=4096)
        try:
            for i, batch in enumerate(batches):
                offsets = await log.produce([ProduceRequest(p, b"t", v) for p, v in batch])
                for (p, v), off in zip(batch, offsets, strict=True):
                    assert off == len(model[p])
                    model[p].append(v)
                if i in reopen_after:
                    await log.close()
                    log = EmbeddedLog(directory, partitions=3, segment_size_bytes=4096)
            for p, values in model.items():
                assert await log.end_offset(p) == len(values)
                assert await _read_all(log, p) == values
        finally:
            await log.close()

    try:
        run(body())
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_commit_task_failure_fails_the_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in the commit task (not a disk error) fails its produce at once, fails the
    ingest-log module (so /ready 503 and the process exits) and is logged with a traceback."""
    from tidewell.ingest.embedded.partition import PartitionLog
    from tidewell.util.services import FunctionService, ServiceManager

    async def body() -> None:
        log = EmbeddedLog(str(tmp_path), write_timeout=20.0)
        manager = ServiceManager([("ingest-log", FunctionService(
            lambda: None, log.close, supervisors=[log.supervisor]))])
        await manager.start_all()
        await log.produce([ProduceRequest(0, b"t", b"ok-0")])
        assert manager.ready() == (True, "")

        def broken(self: PartitionLog, *_: object) -> None:
            raise RuntimeError("bookkeeping bug")

        monkeypatch.setattr(PartitionLog, "apply_batch", broken)
        t0 = asyncio.get_running_loop().time()
        with pytest.raises(LogUnavailableError, match="bookkeeping bug"):
            await log.produce([ProduceRequest(0, b"t", b"never acknowledged")])
        assert asyncio.get_running_loop().time() - t0 < 5  # not the 20 s write timeout
        reason = await asyncio.wait_for(manager.failed(), 5)
        assert reason == "module ingest-log failed: commit: RuntimeError: bookkeeping bug"
        ok, why = manager.ready()
        assert not ok and "module ingest-log is Failed" in why
        await manager.stop_all(timeout_s=5)

    run(body())
