"""Compaction throughput and peak memory: two zones' 2h blocks of one day → one copy.

Run: ``python benchmarks/bench_compactor.py [--series 10000] [--hours 24] [--data DIR]``.
Writes ``hours/2`` blocks of ``series`` series at a 15s interval twice (zone a and
zone b; identical data, as two zones' ingesters of one partition cut it), uploads
them to a filesystem bucket, runs the compactor in this process (one thread) until
the tenant holds one 24h block, and reports samples merged per second, peak RSS,
and bucket bytes per sample before and after. ``--promtool PATH`` (Prometheus 3's
promtool) also writes the same samples (one zone; the first ``--promtool-series``
series, identical to the first series of the full set) as OpenMetrics and has
``promtool tsdb create-blocks-from openmetrics --max-block-duration=24h`` build
Prometheus's own blocks from them, for their bytes per sample.

The blocks are written in a child process, so the peak RSS reported is the
compaction's own (the process's ``ru_maxrss`` after it).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from ulid import ULID

from tidewell.compactor.compactor import Compactor
from tidewell.compactor.config import CompactorConfig
from tidewell.compactor.job import upload_block
from tidewell.model.labels import Labels
from tidewell.objstore import FilesystemBucket, tenant_bucket
from tidewell.tsdb.block import write_block

STEP_MS = 15_000
T0 = 1_699_920_000_000  # a multiple of 24h
H = 3_600_000


def _series(n: int, lo: int, hi: int, seed: int) -> list[tuple[Labels, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    ts = np.arange(lo, hi, STEP_MS, dtype=np.int64)
    out = []
    for i in range(n):
        labels = Labels.from_dict({"__name__": "bench_metric", "i": f"{i:06d}",
                                   "job": f"j{i % 10}"})
        out.append((labels, ts, np.round(rng.normal(0, 100, ts.shape[0]).cumsum(), 2)))
    out.sort(key=lambda s: s[0])
    return out


def _bucket_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()
               and "deletion-mark" not in p.name and p.name != "bucket-index.json.gz")


def _prometheus_bytes(promtool: str, n: int, hours: int, work: Path) -> tuple[int, int]:
    """Bytes and samples of the blocks promtool builds from the same data (one zone)."""
    om = work / "data.om"
    with open(om, "w") as f:
        f.write("# TYPE bench_metric gauge\n")
        for w in range(hours // 2):
            lo = T0 + w * 2 * H
            for labels, ts, vs in _series(n, lo, lo + 2 * H, seed=w):
                lbl = ",".join(f'{k}="{v}"' for k, v in labels if k != "__name__")
                f.writelines(f"bench_metric{{{lbl}}} {v!r} {t / 1000:.3f}\n"
                             for t, v in zip(ts.tolist(), vs.tolist(), strict=True))
        f.write("# EOF\n")
    out = work / "prom"
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics",
                    "--max-block-duration=24h", str(om), str(out)],
                   check=True, capture_output=True)
    om.unlink()
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    samples = sum(int(json.loads(p.read_text())["stats"]["numSamples"])
                  for p in out.glob("*/meta.json"))
    return size, samples


def _zone_copy(block: Path, dest: Path) -> Path:
    """The other zone's copy of ``block``: the same files under a new ULID (two zones'
    ingesters of one partition cut identical chunks)."""
    meta = json.loads((block / "meta.json").read_text())
    meta["ulid"] = str(ULID())
    meta["compaction"]["sources"] = [meta["ulid"]]
    out = dest / meta["ulid"]
    shutil.copytree(block, out)
    (out / "meta.json").write_text(json.dumps(meta, indent="\t"))
    return out


def _write_window(args: argparse.Namespace, work: Path, w: int) -> int:
    """Both zones' 2h blocks of window ``w``, uploaded; returns the samples written."""
    tb = tenant_bucket(FilesystemBucket(work / "bucket"), "bench")
    lo = T0 + w * 2 * H
    series = _series(args.series, lo, lo + 2 * H, seed=w)
    path_a, meta_a = write_block(work / "local" / "a", series, min_time=lo, max_time=lo + 2 * H)
    if args.skew:
        data = [(lbl, ts[1:], vs[1:]) for lbl, ts, vs in series]
        path_b, meta_b = write_block(work / "local" / "b", data, min_time=lo,
                                     max_time=lo + 2 * H)
        samples_b = meta_b.num_samples
    else:
        path_b, samples_b = _zone_copy(path_a, work / "local" / "b"), meta_a.num_samples
    for path in (path_a, path_b):
        upload_block(tb, path)
        shutil.rmtree(path)
    return meta_a.num_samples + samples_b


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--data", default="")
    ap.add_argument("--promtool", default="")
    ap.add_argument("--skew", action="store_true",
                    help="zone b misses each series' first sample of every block, so zone "
                         "copies differ and every chunk is decoded and re-encoded")
    ap.add_argument("--promtool-series", type=int, default=2_000,
                    help="series of the Prometheus comparison (its OpenMetrics input is text)")
    args = ap.parse_args()
    work = Path(args.data or tempfile.mkdtemp(prefix="bench-compactor-"))
    shutil.rmtree(work / "bucket", ignore_errors=True)
    shutil.rmtree(work / "compactor", ignore_errors=True)
    t = time.perf_counter()
    ctx = multiprocessing.get_context("fork")
    # Children write the blocks (two at a time): their memory is not the compactor's.
    with ctx.Pool(2) as pool:
        samples = sum(pool.starmap(_write_window,
                                   [(args, work, w) for w in range(args.hours // 2)]))
    print(f"wrote {samples:,} samples (two zones) in {time.perf_counter() - t:.1f}s",
          flush=True)
    bucket = FilesystemBucket(work / "bucket")
    before = _bucket_bytes(work / "bucket" / "bench")

    comp = Compactor(bucket, CompactorConfig(deletion_delay=0), work / "compactor",
                     clock=lambda: time.time() + 3600)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    cpu = time.process_time()
    jobs = comp.compact_tenant("bench")
    wall, cpu = time.perf_counter() - t, time.process_time() - cpu
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    comp.clean_tenant("bench")  # deletion delay 0 wait: run twice to hard-delete
    time.sleep(1.1)
    comp.clean_tenant("bench")
    after = _bucket_bytes(work / "bucket" / "bench")
    live = comp.live_blocks("bench")
    unique = (samples + (args.series * (args.hours // 2) if args.skew else 0)) // 2
    print(f"{jobs} jobs, {len(live)} block(s) left, levels {[b.level for b in live]}")
    print(f"compaction: {wall:.1f}s wall, {cpu:.1f}s CPU; {samples / cpu:,.0f} input samples/s "
          f"per core ({unique / cpu:,.0f} output samples/s)")
    print(f"peak RSS: {rss1 / 1024:.0f} MiB (before compaction {rss0 / 1024:.0f} MiB)")
    print(f"bucket: {before:,} B = {before / unique:.2f} B/sample before, "
          f"{after:,} B = {after / unique:.2f} B/sample after")
    if args.promtool:
        size, n = _prometheus_bytes(args.promtool, min(args.series, args.promtool_series),
                                    args.hours, work)
        print(f"prometheus (promtool, 24h blocks): {size:,} B for {n:,} samples = "
              f"{size / n:.2f} B/sample")


if __name__ == "__main__":
    main()
