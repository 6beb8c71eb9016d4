"""Embedded log crash safety: kill -9 a producing process, reopen, every ack is there."""

from __future__ import annotations

import asyncio
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tidewell.ingest.embedded import EmbeddedLog

pytestmark = pytest.mark.timeout(90)

CHILD = r"""
import asyncio, sys
from tidewell.ingest.embedded import EmbeddedLog
from tidewell.ingest.log import ProduceRequest

async def producer(log, task):
    seq = 0
    while True:
        value = (f"{task}:{seq}:".encode() * 200)[:1000]
        reqs = [ProduceRequest(task % 2, b"tenant", value)]
        (offset,) = await log.produce(reqs)
        sys.stdout.write(f"{task % 2} {offset} {task}:{seq}\n")
        sys.stdout.flush()
        seq += 1

async def main():
    log = EmbeddedLog(sys.argv[1], partitions=2, segment_size_bytes=64 * 1024)
    await asyncio.gather(*(producer(log, t) for t in range(16)))

asyncio.run(main())
"""


def _run_and_kill(directory: Path, min_acks: int) -> list[tuple[int, int, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(directory)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    acks: list[tuple[int, int, str]] = []
    buf = b""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + 30
    try:
        while len(acks) < min_acks:
            assert time.monotonic() < deadline, f"only {len(acks)} acks in 30s"
            if not sel.select(1.0):
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, proc.stderr.read().decode() if proc.stderr else "child exited"
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                p, off, tag = line.decode().split()
                acks.append((int(p), int(off), tag))
        proc.send_signal(signal.SIGKILL)  # mid-produce: more writes are in flight
    finally:
        proc.kill()
        proc.communicate(timeout=10)  # reap and close the pipes
        sel.close()
    return acks


def test_kill_9_loses_no_acknowledged_record(tmp_path: Path) -> None:
    directory = tmp_path / "log"
    acks = _run_and_kill(directory, 400)
    acks += _run_and_kill(directory, 400)  # a second life appends after recovery

    async def check() -> None:
        log = EmbeddedLog(str(directory), partitions=2, segment_size_bytes=64 * 1024)
        try:
            stored: dict[tuple[int, int], bytes] = {}
            for p in (0, 1):
                end = await log.end_offset(p)
                offset = 0
                while offset < end:
                    batch = await log.fetch(p, offset, 1000, 0)
                    assert [r.offset for r in batch] == list(range(offset, offset + len(batch)))
                    for r in batch:
                        stored[(p, r.offset)] = r.value
                    offset += len(batch)
            for p, off, tag in acks:
                assert (p, off) in stored, f"acknowledged record {p}/{off} lost"
                assert stored[(p, off)] == (f"{tag}:".encode() * 200)[:1000]
        finally:
            await log.close()

    asyncio.run(asyncio.wait_for(check(), 30))
    assert len({(p, o) for p, o, _ in acks}) == len(acks), "an offset was acknowledged twice"
