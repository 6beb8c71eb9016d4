"""Head memory per series and append throughput; ingester consume (decode+WAL+append) rate.

Run: ``python benchmarks/bench_ingester_head.py [--series 100000] [--scrapes 120]``.
Remote-write shaped input: every scrape is one sample for each series, sent
as requests of 2,000 series; series have 6 labels.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import tempfile
import time

import numpy as np

from tidewell.model import Labels, SampleBatch
from tidewell.tsdb.head import Head, HeadQuerier

PER_REQUEST = 2000


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def make_labels(n: int) -> list[Labels]:
    return [
        Labels.from_dict(
            {
                "__name__": f"metric_{i % 100}",
                "job": f"job-{i % 10}",
                "instance": f"host-{i // 100}:9100",
                "region": f"r{i % 3}",
                "env": "prod",
                "id": str(i),
            }
        )
        for i in range(n)
    ]


def bench_head(series: int, scrapes: int) -> None:
    labels = make_labels(series)
    rng = np.random.default_rng(1)
    t0_ms = 1_700_000_000_000
    batches_labels = [labels[i : i + PER_REQUEST] for i in range(0, series, PER_REQUEST)]
    idx = [np.arange(len(b), dtype=np.int32) for b in batches_labels]
    # Decoders hand heads one label-bytes hash per series (``SampleBatch.series_keys``);
    # any distinct pair per series stands in for it here.
    keys = np.zeros((series, 2), dtype=np.uint64)
    keys[:, 0] = np.arange(series, dtype=np.uint64)
    counters = np.zeros(series)
    gc.collect()
    base = rss_bytes()
    # Numba and the compiled chunk kernels cost ~150 MiB once per process, not per
    # series: measured here so that it can be told apart from the head's own memory.
    warm = Head()
    warm.append(SampleBatch(labels[:1], idx[0][:1], np.zeros(1, dtype=np.int64), np.zeros(1)))
    warm.cut_chunks(everything=True)
    del warm
    runtime = rss_bytes() - base
    head = Head()
    t_append = 0.0
    for k in range(scrapes):
        counters += rng.integers(0, 50, series)
        jitter = rng.integers(-3, 4, series)
        for bi, bl in enumerate(batches_labels):
            lo = bi * PER_REQUEST
            n = len(bl)
            b = SampleBatch(
                bl, idx[bi], t0_ms + k * 15_000 + jitter[lo : lo + n], counters[lo : lo + n].copy(),
                series_keys=keys[lo : lo + n],
            )
            t = time.perf_counter()
            head.append(b)
            t_append += time.perf_counter() - t
    total = series * scrapes
    t = time.perf_counter()
    head.cut_chunks()
    t_cut = time.perf_counter() - t
    gc.collect()
    used = rss_bytes() - base
    chunk_bytes = sum(len(c[2]) for cs in head.chunks for c in cs or ())
    open_samples = head.open.num_samples()
    chunk_samples = total - head.staging.count - open_samples
    print(f"head: {series} series x {scrapes} samples = {total} samples")
    print(f"  append: {total / t_append:,.0f} samples/s ({t_append:.2f}s, incl. chunk cuts)")
    print(f"  final cut of remaining: {t_cut:.2f}s")
    print(
        f"  RSS growth: {used / 2**20:.1f} MiB = {used / series:,.0f} B/series "
        f"({used / total:.2f} B/sample); without the {runtime / 2**20:.0f} MiB of "
        f"compiled kernels (once per process): {(used - runtime) / series:,.0f} B/series"
    )
    print(
        f"  closed chunks: {chunk_bytes / max(chunk_samples, 1):.2f} B/sample over "
        f"{chunk_samples} samples; open chunks: {head.open.arena.nbytes:,} B = "
        f"{head.open.arena.nbytes / max(open_samples, 1):.2f} B/sample over {open_samples} "
        f"samples; staged (uncompressed): {head.staging.count} samples"
    )
    q = HeadQuerier(head, 0, 2**62)
    from tidewell.model import Matcher

    t = time.perf_counter()
    res = q.select([Matcher.equal("job", "job-3")])
    dt = time.perf_counter() - t
    print(
        f"  select job=job-3: {len(res)} series, {sum(len(s) for s in res)} samples "
        f"in {dt * 1000:.0f} ms"
    )


async def bench_ingester(series: int, scrapes: int) -> None:
    from tidewell.ingest.config import IngestStorageConfig
    from tidewell.ingest.embedded.log import EmbeddedLog
    from tidewell.ingest.log import ProduceRequest
    from tidewell.ingester import Ingester, IngesterConfig, IngesterRingConfig
    from tidewell.protocol.rw1 import encode_write_request
    from tidewell.tsdb.config import TSDBConfig

    labels = make_labels(series)
    d = tempfile.mkdtemp()
    log = EmbeddedLog(f"{d}/log", 1, group_commit_window=0.0)
    t = time.perf_counter()
    for k in range(scrapes):
        reqs = []
        for lo in range(0, series, PER_REQUEST):
            bl = labels[lo : lo + PER_REQUEST]
            n = len(bl)
            b = SampleBatch(
                bl,
                np.arange(n, dtype=np.int32),
                np.full(n, 1_700_000_000_000 + k * 15_000, dtype=np.int64),
                np.full(n, float(k)),
            )
            reqs.append(ProduceRequest(0, b"bench", encode_write_request(b), 1))
        await log.produce(reqs)
    print(
        f"ingester: prepared {series * scrapes} samples in the log "
        f"({time.perf_counter() - t:.1f}s, not timed)"
    )
    ingest = IngestStorageConfig()
    ingest.kafka.max_consumer_lag_at_startup = 3600
    ingest.kafka.target_consumer_lag_at_startup = 3600
    cfg = IngesterConfig(ring=IngesterRingConfig(instance_id="ingester-zone-a-0"))
    ing = Ingester(cfg, TSDBConfig(), ingest, None, log, f"{d}/ing")
    t = time.perf_counter()
    await ing.start()
    dt = time.perf_counter() - t
    total = series * scrapes
    print(
        f"  consume from log (WAL fsync + decode + append): {total / dt:,.0f} samples/s ({dt:.2f}s)"
    )

    # Event-loop responsiveness while ingesting: worst sleep(0.01) overshoot.
    async def lag_probe(stop: asyncio.Event, out: list[float]) -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            await asyncio.sleep(0.01)
            out.append(time.perf_counter() - t0 - 0.01)

    t = time.perf_counter()
    await ing.stop()
    print(f"  clean stop (snapshot): {time.perf_counter() - t:.2f}s")
    cfg_b = IngesterConfig(ring=IngesterRingConfig(instance_id="ingester-zone-b-0"))
    no_snapshot = TSDBConfig(memory_snapshot_on_shutdown=False)
    ing = Ingester(cfg_b, no_snapshot, ingest, None, log, f"{d}/ing2")
    stop = asyncio.Event()
    t = time.perf_counter()
    lags: list[float] = []
    probe = asyncio.create_task(lag_probe(stop, lags))
    await ing.start()
    stop.set()
    await probe
    print(
        f"  event loop during consume: max delay {max(lags) * 1000:.0f} ms, "
        f"p99 {np.percentile(lags, 99) * 1000:.0f} ms over {len(lags)} probes"
    )
    await ing.stop()
    t = time.perf_counter()
    ing = Ingester(cfg_b, no_snapshot, ingest, None, log, f"{d}/ing2")
    await ing.start()
    dt = time.perf_counter() - t
    print(f"  restart replaying the WAL (no snapshot): {total / dt:,.0f} samples/s ({dt:.2f}s)")
    await ing.stop()
    t = time.perf_counter()
    ing = Ingester(cfg, TSDBConfig(), ingest, None, log, f"{d}/ing")
    await ing.start()
    print(f"  restart after clean stop (snapshot load): {time.perf_counter() - t:.2f}s")
    await ing.stop()
    await log.close()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--series", type=int, default=100_000)
    p.add_argument("--scrapes", type=int, default=120)
    p.add_argument("--ingester-series", type=int, default=20_000)
    p.add_argument("--ingester-scrapes", type=int, default=30)
    p.add_argument("--gc-tune", action="store_true",
                   help="gc.freeze() before each phase and raise gen-0 threshold to 50,000")
    p.add_argument("--skip-head", action="store_true")
    a = p.parse_args()
    if a.gc_tune:
        gc.freeze()
        gc.set_threshold(50_000, 20, 100)
    if not a.skip_head:
        bench_head(a.series, a.scrapes)
    asyncio.run(bench_ingester(a.ingester_series, a.ingester_scrapes))


if __name__ == "__main__":
    main()
