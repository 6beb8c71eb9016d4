"""The contract every ingest log backend must honour, as a reusable test suite.

Subclass ``LogContractTests`` in a test module and implement ``open_log`` (an
async context manager yielding ``(writer, reader)`` over a log with at least two
partitions that is empty at the start of each test; opening it again within
the same test must open the same log). Tests are plain methods that drive an event loop
themselves, so the suite needs no pytest plugin.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from tidewell.ingest.log import LogWriter, PartitionReader, ProduceRequest

__all__ = ["LogContractTests"]


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class LogContractTests:
    """Shared behaviour tests for ``LogWriter`` + ``PartitionReader`` backends."""

    timeout_s = 60.0

    def open_log(self) -> contextlib.AbstractAsyncContextManager[tuple[LogWriter, PartitionReader]]:
        raise NotImplementedError

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run(asyncio.wait_for(coro, self.timeout_s))

    @staticmethod
    async def fetch_all(r: PartitionReader, partition: int, start: int, end: int) -> list[Any]:
        out: list[Any] = []
        offset = start
        while offset < end:
            batch = await r.fetch(partition, offset, 1000, 5.0)
            assert batch, f"no records at offset {offset} (expected up to {end})"
            out.extend(batch)
            offset = batch[-1].offset + 1
        return out

    # -- tests -------------------------------------------------------------------

    def test_round_trip_keeps_key_value_version(self) -> None:
        async def body() -> None:
            async with self.open_log() as (w, r):
                reqs = [
                    ProduceRequest(0, b"tenant-a", b"\x00\x01payload", version=1),
                    ProduceRequest(1, b"tenant-b", b"x" * 5000, version=2),
                    ProduceRequest(0, b"tenant-c", b"", version=0),
                    ProduceRequest(0, b"team/42", bytes(range(256)), version=1),
                ]
                before = _now_ms()
                offsets = await w.produce(reqs)
                assert offsets == [0, 0, 1, 2]
                got0 = await self.fetch_all(r, 0, 0, 3)
                got1 = await self.fetch_all(r, 1, 0, 1)
                want = [reqs[0], reqs[2], reqs[3]]
                assert [(g.key, g.value, g.version) for g in got0] == [
                    (q.key, q.value, q.version) for q in want
                ]
                assert [g.offset for g in got0] == [0, 1, 2]
                assert all(g.partition == 0 for g in got0)
                assert (got1[0].key, got1[0].value, got1[0].version, got1[0].partition) == (
                    b"tenant-b", b"x" * 5000, 2, 1
                )
                for g in got0 + got1:
                    assert before - 5000 <= g.timestamp_ms <= _now_ms() + 5000

        self.run(body())

    def test_offsets_are_zero_based_and_contiguous_under_concurrency(self) -> None:
        async def body() -> None:
            async with self.open_log() as (w, r):
                calls = [
                    [ProduceRequest(0, b"t", f"{c}-{i}".encode()) for i in range(1 + c % 3)]
                    for c in range(30)
                ]
                results = await asyncio.gather(*(w.produce(c) for c in calls))
                flat = sorted(o for res in results for o in res)
                total = sum(len(c) for c in calls)
                assert flat == list(range(total))
                for res in results:
                    assert res == sorted(res)
                got = await self.fetch_all(r, 0, 0, total)
                by_offset = {g.offset: g.value for g in got}
                for call, res in zip(calls, results, strict=True):
                    for req, off in zip(call, res, strict=True):
                        assert by_offset[off] == req.value

        self.run(body())

    def test_end_and_start_offsets_follow_produce(self) -> None:
        async def body() -> None:
            async with self.open_log() as (w, r):
                assert await r.end_offset(0) == 0
                assert await r.start_offset(0) == 0
                await w.produce([ProduceRequest(0, b"t", b"v" * 100) for _ in range(500)])
                assert await r.end_offset(0) == 500
                await w.produce([ProduceRequest(0, b"t", b"w")])
                assert await r.end_offset(0) == 501
                assert await r.end_offset(1) == 0
                assert await r.start_offset(0) == 0

        self.run(body())

    def test_fetch_honours_offset_and_max_records(self) -> None:
        async def body() -> None:
            async with self.open_log() as (w, r):
                await w.produce([ProduceRequest(1, b"t", str(i).encode()) for i in range(20)])
                got = await r.fetch(1, 7, 5, 5.0)
                assert 1 <= len(got) <= 5
                assert [g.offset for g in got] == list(range(7, 7 + len(got)))
                assert [g.value for g in got] == [str(o).encode() for o in range(7, 7 + len(got))]
                again = await r.fetch(1, 3, 2, 5.0)  # going back works too
                assert [g.offset for g in again] == list(range(3, 3 + len(again)))
                assert again[0].value == b"3"

        self.run(body())

    def test_commit_and_committed(self) -> None:
        async def body() -> None:
            async with self.open_log() as (w, r):
                await w.produce([ProduceRequest(0, b"t", b"v") for _ in range(10)])
                assert await r.committed("ingester-zone-a-0", 0) is None
                await r.commit("ingester-zone-a-0", 0, 5)
                assert await r.committed("ingester-zone-a-0", 0) == 5
                assert await r.committed("ingester-zone-b-0", 0) is None
                assert await r.committed("ingester-zone-a-0", 1) is None
                await r.commit("ingester-zone-a-0", 0, 10)
                await r.commit("ingester-zone-b-0", 0, 0)
                assert await r.committed("ingester-zone-a-0", 0) == 10
                assert await r.committed("ingester-zone-b-0", 0) == 0

        self.run(body())

    def test_fetch_long_polls_until_produce(self) -> None:
        async def body() -> None:
            async with self.open_log() as (w, r):
                await w.produce([ProduceRequest(0, b"t", b"first")])
                t0 = time.monotonic()
                assert await r.fetch(0, 1, 10, 0.3) == []
                assert time.monotonic() - t0 >= 0.25

                async def produce_later() -> None:
                    await asyncio.sleep(0.3)
                    await w.produce([ProduceRequest(0, b"t", b"second")])

                t0 = time.monotonic()
                task = asyncio.create_task(produce_later())
                got = await r.fetch(0, 1, 10, 20.0)
                waited = time.monotonic() - t0
                await task
                assert [(g.offset, g.value) for g in got] == [(1, b"second")]
                assert 0.25 <= waited < 10.0

        self.run(body())

    def test_offset_for_timestamp(self) -> None:
        async def body() -> None:
            async with self.open_log() as (w, r):
                await w.produce([ProduceRequest(0, b"t", b"a") for _ in range(3)])
                await asyncio.sleep(0.05)
                middle = _now_ms()
                await asyncio.sleep(0.05)
                await w.produce([ProduceRequest(0, b"t", b"b") for _ in range(4)])
                assert await r.offset_for_timestamp(0, 0) == 0
                assert await r.offset_for_timestamp(0, middle) == 3
                assert await r.offset_for_timestamp(0, _now_ms() + 3_600_000) == 7
                assert await r.offset_for_timestamp(1, middle) == 0

        self.run(body())

    def test_reopened_log_keeps_records_and_committed_offsets(self) -> None:
        async def body() -> None:
            async with self.open_log() as (w, r):
                await w.produce([ProduceRequest(1, b"t", b"kept-%d" % i) for i in range(3)])
                await r.commit("ingester-1", 1, 2)
            async with self.open_log() as (w, r):
                assert await r.committed("ingester-1", 1) == 2
                assert await r.end_offset(1) == 3
                got = await self.fetch_all(r, 1, 2, 3)
                assert [(g.offset, g.value) for g in got] == [(2, b"kept-2")]
                assert await w.produce([ProduceRequest(1, b"t", b"more")]) == [3]

        self.run(body())

    def test_empty_produce_is_a_no_op(self) -> None:
        async def body() -> None:
            async with self.open_log() as (w, r):
                assert await w.produce([]) == []
                assert await r.end_offset(0) == 0

        self.run(body())


@contextlib.asynccontextmanager
async def closing_pair(
    writer: LogWriter, reader: PartitionReader
) -> AsyncIterator[tuple[LogWriter, PartitionReader]]:
    """Yield ``(writer, reader)`` and close both (once, if they are the same object)."""
    try:
        yield writer, reader
    finally:
        await writer.close()
        if reader is not writer:
            await reader.close()
