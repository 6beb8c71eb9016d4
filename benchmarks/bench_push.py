"""Side-by-side remote-write throughput: Tidewell distributor + embedded log vs Prometheus.

Run by hand (never as a timed test)::

    python -m benchmarks.bench_push      # CONC=1: one request in flight

Both servers are pinned to core 0 (Prometheus with GOMAXPROCS=1) and get the
same pre-encoded snappy payloads (100k series x 6 labels, 2,000 samples per
request, 4 rounds; the first round is warm-up). The client runs on core 1.
Reports samples/s of wall time and samples per CPU-second of the server
process (the latter is robust on a shared machine).
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import httpx

from tidewell.protocol import snappy_compress
from tidewell.protocol.pb import prompb_pb2 as pb
from tidewell.util.ports import free_port

N_SERIES, PER_REQ, ROUNDS = 100_000, 2000, 4
HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "X-Scope-OrgID": "bench",
}

SERVER = r"""
import asyncio, sys
import uvicorn
from starlette.applications import Starlette
from tidewell.distributor import Distributor, DistributorConfig, Limits, Overrides, push_routes
from tidewell.ingest.embedded import EmbeddedLog
from tidewell.ring import PartitionRing, PartitionRingDesc, PartitionState
from tests.unit.distributor.helpers import TenantState

async def main():
    log = EmbeddedLog(sys.argv[2], partitions=4)
    desc = PartitionRingDesc()
    for p in range(4):
        desc.add_partition(p, PartitionState.ACTIVE, 0)
    limits = Limits(ingestion_rate=1e12, ingestion_burst_size=10**12)
    d = Distributor(DistributorConfig(), Overrides(limits), PartitionRing(desc), log)
    app = TenantState(Starlette(routes=push_routes(d)))
    cfg = uvicorn.Config(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
                         access_log=False)
    await uvicorn.Server(cfg).serve()

asyncio.run(main())
"""


def payloads() -> list[tuple[int, int, bytes]]:
    now = int(time.time() * 1000) - 600_000
    out = []
    for rnd in range(ROUNDS):
        for r in range(N_SERIES // PER_REQ):
            wr = pb.WriteRequest()
            for i in range(r * PER_REQ, (r + 1) * PER_REQ):
                ts = wr.timeseries.add()
                for n, v in (
                    ("__name__", f"metric_{i % 100}"), ("cluster", "c1"),
                    ("instance", f"host-{i // 100}:9100"), ("job", "node"),
                    ("namespace", "default"), ("pod", f"pod-{i % 977}"),
                ):
                    lab = ts.labels.add()
                    lab.name, lab.value = n, v
                s = ts.samples.add()
                s.value, s.timestamp = float(i + rnd), now + rnd * 15000
            out.append((rnd, r, snappy_compress(wr.SerializeToString())))
    return out


async def send(url: str, pls, conc: int) -> tuple[int, int, float]:
    """One task per shard sends its requests in order; returns (ok, failed, seconds)."""
    shards: dict[int, list[bytes]] = {}
    for _rnd, r, body in pls:
        shards.setdefault(r % conc, []).append(body)
    ok = fail = 0
    async with httpx.AsyncClient(timeout=60) as c:

        async def worker(items: list[bytes]) -> None:
            nonlocal ok, fail
            for body in items:
                resp = await c.post(url, content=body, headers=HEADERS)
                if resp.status_code // 100 == 2:
                    ok += PER_REQ
                else:
                    fail += PER_REQ
                    if fail == PER_REQ:
                        print("error", resp.status_code, resp.text[:200])

        t = time.perf_counter()
        await asyncio.gather(*(worker(v) for v in shards.values()))
        return ok, fail, time.perf_counter() - t


def cpu_seconds(pid: int) -> float:
    total = 0.0
    for stat in glob.glob(f"/proc/{pid}/task/*/stat"):
        try:
            with open(stat) as fh:
                f = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    return total


def wait_port(port: int, timeout: float = 30) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def main() -> None:
    pls = payloads()
    conc = int(os.environ.get("CONC", "4"))
    os.sched_setaffinity(0, {1})
    results: dict[str, float] = {}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    for system in ("tidewell", "prometheus"):
        port = free_port()
        d = tempfile.mkdtemp()
        if system == "tidewell":
            cmd = ["taskset", "-c", "0", sys.executable, "-c", SERVER, str(port), d]
            env = dict(os.environ)
            url = f"http://127.0.0.1:{port}/api/v1/push"
        else:
            cmd = ["taskset", "-c", "0", "prometheus", "--web.enable-remote-write-receiver",
                   f"--web.listen-address=127.0.0.1:{port}", f"--storage.tsdb.path={d}",
                   "--config.file=/dev/null"]
            env = {**os.environ, "GOMAXPROCS": "1"}
            url = f"http://127.0.0.1:{port}/api/v1/write"
        proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            wait_port(port)
            time.sleep(1)
            asyncio.run(send(url, [p for p in pls if p[0] == 0], conc))
            c0 = cpu_seconds(proc.pid)  # taskset execs the server in place: same pid
            ok, fail, dt = asyncio.run(send(url, [p for p in pls if p[0] > 0], conc))
            cpu = cpu_seconds(proc.pid) - c0
            results[system] = ok / dt
            results[system + "_cpu"] = ok / cpu
            print(f"{system}: {ok / dt:,.0f} samples/s wall, {ok / cpu:,.0f} samples per "
                  f"CPU-second ({ok} ok, {fail} failed, {dt:.2f}s wall, {cpu:.2f}s CPU)")
        finally:
            proc.terminate()
            proc.wait(10)
            shutil.rmtree(d, ignore_errors=True)
    print(f"ratio tidewell/prometheus: wall {results['tidewell'] / results['prometheus']:.2f}, "
          f"per CPU-second {results['tidewell_cpu'] / results['prometheus_cpu']:.2f}")


if __name__ == "__main__":
    main()
