"""SIGKILL the process holding the embedded log and the ingester, again and again.

Writers push records over 4 connections; a push counts as acknowledged once the
log acknowledged it. After each kill the process restarts (replaying its
snapshot and WAL, then consuming from the log). At the end every acknowledged
record must be queryable exactly once, a record in flight at a kill at most
once, nothing else, and no record may ever have been applied twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(120)

NODE = Path(__file__).with_name("crash_node.py")
CONNS = 4
SERIES = 20


class Node:
    def __init__(self, data_dir: Path, kafka: list[str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(NODE), str(data_dir), *kafka],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"node exited with {self.proc.wait()} before becoming ready")
        hello = json.loads(line)
        self.port: int = hello["port"]
        self.duplicates: float = hello["duplicates"]

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


async def pusher(port: int, conn: int, seq: list[int], acked: dict, unknown: set,
                 stop: asyncio.Event) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return
    try:
        while not stop.is_set():
            k = seq[conn]
            seq[conn] += 1
            unknown.add((conn, k))
            writer.write(json.dumps({"op": "push", "conn": conn, "seq": k}).encode() + b"\n")
            await writer.drain()
            line = await reader.readline()
            if not line:
                return  # killed mid-request: stays "unknown"
            reply = json.loads(line)
            unknown.discard((conn, k))
            acked[(conn, k)] = reply["offset"]
    except (ConnectionError, OSError):
        return
    finally:
        writer.close()


async def dump(port: int, until: int) -> dict:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 28)
    writer.write(json.dumps({"op": "dump", "until": until}).encode() + b"\n")
    await writer.drain()
    out = json.loads(await reader.readline())
    writer.close()
    return out


@pytest.mark.parametrize("backend", ["embedded", "tansu", "kafka"])
def test_sigkill_loses_nothing_and_applies_nothing_twice(
    tmp_path: Path, backend: str, broker_of  # type: ignore[no-untyped-def]
) -> None:
    kafka: list[str] = []
    if backend != "embedded":
        broker = broker_of(backend)
        kafka = [broker.address, f"crash-{os.getpid()}-{time.monotonic_ns()}"]
    rng = random.Random(int(os.environ.get("TIDEWELL_CRASH_SEED", "42")))
    acked: dict[tuple[int, int], int] = {}
    unknown: set[tuple[int, int]] = set()
    seq = [1] * CONNS
    duplicates = 0.0
    kills = 6

    async def round_(node: Node, kill_after: float) -> None:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(pusher(node.port, c, seq, acked, unknown, stop))
                 for c in range(CONNS)]
        await asyncio.sleep(kill_after)
        node.kill()
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)

    for _ in range(kills):
        node = Node(tmp_path, kafka)
        duplicates += node.duplicates
        asyncio.run(round_(node, rng.uniform(0.3, 1.2)))

    assert len(acked) > 200, "the test pushed too little to mean anything"
    node = Node(tmp_path, kafka)
    try:
        duplicates += node.duplicates
        result = asyncio.run(dump(node.port, max(acked.values())))
    finally:
        node.kill()
    duplicates += result["duplicates"]

    got: dict[tuple[int, int], set[int]] = {}
    for conn, j, ts, vals in result["series"]:
        assert len(ts) == len(set(ts)), "a sample is stored twice"
        assert vals == [t / 1000 for t in ts]
        got[(int(conn), int(j))] = {t // 1000 for t in ts}
    records = {(c, k) for (c, _j), ks in got.items() for k in ks}
    for c, k in records:  # a record is all-or-nothing
        assert all(k in got.get((c, j), set()) for j in range(SERIES)), (c, k)
    missing = acked.keys() - records
    assert not missing, f"{len(missing)} acknowledged records lost, e.g. {sorted(missing)[:5]}"
    extra = records - acked.keys() - unknown
    assert not extra, f"records that were never pushed: {sorted(extra)[:5]}"
    assert duplicates == 0, "a record was applied twice (replay overlapped consumption)"
    assert result["blocks"] > 0, "no block was cut: the test did not cross a cut"
    assert result["raw_samples"] == len(records) * SERIES, (
        "head and local blocks hold a sample twice (a cut replayed into the head)"
    )
    print(f"acked={len(acked)} in-flight-at-kill={len(unknown)} "
          f"in-flight-kept={len(records & unknown)} samples={len(records) * SERIES} "
          f"local-blocks={result['blocks']}")
