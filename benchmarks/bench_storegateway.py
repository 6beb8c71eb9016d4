"""Store-gateway range select over blocks in a filesystem bucket, vs Prometheus.

Run: ``python benchmarks/bench_storegateway.py [--series 10000] [--hours 24]
[--block-hours 2] [--data DIR]``. Writes ``hours/block-hours`` blocks of
``series`` series at a 15s interval (kept in ``--data`` for reuse), uploads
them to a filesystem bucket, and times a select of every series over the whole
range through the store-gateway: cold (index download, chunk pages fetched) and
warm (caches hot). Prometheus then reads copies of the same blocks
(``taskset -c 0``, ``GOMAXPROCS=1``, compaction off) and is timed on
``count_over_time(bench_metric[<hours>h])``, which reads every sample too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from benchmarks.launch import wait_http_ok
from tidewell.model.labels import Labels
from tidewell.model.matchers import Matcher, MatchType
from tidewell.objstore import FilesystemBucket, tenant_bucket
from tidewell.objstore.bucketindex import update_bucket_index
from tidewell.storegateway.config import BucketStoreConfig
from tidewell.storegateway.gateway import StoreGateway
from tidewell.tsdb.block import write_block
from tidewell.tsdb.chunkenc import decode_xor_many
from tidewell.tsdb.records import parse_chunks

STEP_MS = 15_000
T0 = 1_700_000_000_000 // 7_200_000 * 7_200_000
TENANT = "bench"


def make_blocks(out: Path, n_series: int, hours: int, block_hours: int) -> list[Path]:
    done = out / "DONE"
    if done.exists():
        return sorted(p for p in out.iterdir() if p.is_dir())
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    rng = np.random.default_rng(42)
    labels = sorted(
        Labels.from_dict(
            {"__name__": "bench_metric", "instance": f"host-{i // 100:03d}", "series": f"{i:05d}"}
        )
        for i in range(n_series)
    )
    kind = rng.integers(0, 2, n_series)  # 0 = counter, 1 = gauge
    last = np.zeros(n_series)
    span = block_hours * 3_600_000
    for b in range(hours // block_hours):
        ts = np.arange(T0 + b * span, T0 + (b + 1) * span, STEP_MS, dtype=np.int64)
        incs = rng.integers(0, 50, (n_series, ts.shape[0])).astype(np.float64)
        vals = np.where(kind[:, None] == 0, last[:, None] + np.cumsum(incs, axis=1),
                        np.round(rng.normal(100, 10, (n_series, ts.shape[0])), 1))
        last = vals[:, -1]
        t = time.perf_counter()
        write_block(out, ((labels[i], ts, vals[i]) for i in range(n_series)),
                    min_time=T0 + b * span, max_time=T0 + (b + 1) * span)
        print(f"  wrote block {b + 1} in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    done.touch()
    return sorted(p for p in out.iterdir() if p.is_dir())


def upload(blocks: list[Path], bucket_dir: Path) -> FilesystemBucket:
    bucket = FilesystemBucket(bucket_dir, fsync=False)
    tb = tenant_bucket(bucket, TENANT)
    for block in blocks:
        for f in sorted(block.rglob("*")):
            if f.is_file():
                tb.upload_file(f"{block.name}/{f.relative_to(block).as_posix()}", f)
    update_bucket_index(bucket, TENANT)
    return bucket


def bench_ours(bucket: FilesystemBucket, sync_dir: Path, hours: int) -> dict[str, float]:
    gw = StoreGateway(BucketStoreConfig(), bucket, sync_dir)
    gw.sync()
    # Load the compiled kernels (Numba's disk cache) outside the timed queries.
    gw.querier(TENANT, T0, T0).select([Matcher(MatchType.EQUAL, "__name__", "none")])
    decode_xor_many(np.zeros(4, np.uint8), np.zeros(1, np.int64), np.full(1, 2, np.int64))
    parse_chunks(np.zeros(8, np.uint8), np.zeros(1, np.int64), np.full(1, 8, np.int64))
    sel = [Matcher(MatchType.EQUAL, "__name__", "bench_metric")]
    maxt = T0 + hours * 3_600_000 - 1
    out: dict[str, float] = {}
    for name in ("cold", "warm", "warm2"):
        t, c = time.perf_counter(), time.process_time()
        res = gw.querier(TENANT, T0, maxt).select(sel)
        out[name] = time.perf_counter() - t
        cpu = time.process_time() - c
        n = sum(len(s) for s in res)
        print(f"tidewell store-gateway select ({name}): {out[name]:.3f}s wall, {cpu:.3f}s CPU, "
              f"{len(res)} series, {n} samples, {n / cpu / 1e6:.1f}M samples/CPU-s")
        del res
    return out


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_prometheus(blocks: list[Path], work: Path, hours: int) -> None:
    prom = shutil.which("prometheus")
    if prom is None:
        print("prometheus binary missing: skipped")
        return
    data = work / "prom-data"
    data.mkdir(parents=True)
    for b in blocks:
        shutil.copytree(b, data / b.name)
    (work / "prom.yml").write_text("global: {}\n")
    port = 19090 + os.getpid() % 1000
    env = dict(os.environ, GOMAXPROCS="1")
    proc = subprocess.Popen(
        ["taskset", "-c", "0", prom, f"--config.file={work / 'prom.yml'}",
         f"--storage.tsdb.path={data}", f"--web.listen-address=127.0.0.1:{port}",
         "--storage.tsdb.retention.time=100y", "--storage.tsdb.min-block-duration=2h",
         "--storage.tsdb.max-block-duration=2h"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        if not wait_http_ok(f"{url}/-/ready", 120.0, alive=lambda: proc.poll() is None):
            raise SystemExit(f"prometheus did not become ready at {url} within 120s")
        at = (T0 + hours * 3_600_000 - 1) / 1000
        q = f"count_over_time(bench_metric[{hours}h])"
        for name in ("cold", "warm", "warm2"):
            t, c = time.perf_counter(), _cpu_seconds(proc.pid)
            r = httpx.get(f"{url}/api/v1/query", params={"query": q, "time": at}, timeout=600)
            dt = time.perf_counter() - t
            cpu = _cpu_seconds(proc.pid) - c
            res = r.json()["data"]["result"]
            n = sum(int(float(x["value"][1])) for x in res)
            print(f"prometheus {q} ({name}): {dt:.3f}s wall, {cpu:.2f}s CPU, {len(res)} series, "
                  f"{n} samples")
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--block-hours", type=int, default=2)
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "tw-bench-sg")
    ap.add_argument("--no-prometheus", action="store_true")
    args = ap.parse_args()
    data = args.data / f"{args.series}x{args.hours}h-{args.block_hours}h"
    blocks = make_blocks(data, args.series, args.hours, args.block_hours)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bucket = upload(blocks, work / "bucket")
        bench_ours(bucket, work / "sync", args.hours)
        if not args.no_prometheus:
            bench_prometheus(blocks, work, args.hours)


if __name__ == "__main__":
    main()
