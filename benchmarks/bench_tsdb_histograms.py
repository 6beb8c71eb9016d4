"""Native histograms in the TSDB: head append rate, block bytes per sample, block read rate.

Run: ``python benchmarks/bench_tsdb_histograms.py [--series 1000] [--scrapes 240] [--buckets 20]``.
Integer counter histograms (schema 3, two spans) scraped every 15 s, appended one
scrape at a time (remote-write shaped: one ``SampleBatch`` per scrape of all
series); then the first 2 h range is cut into a block and read back. Our chunks
are byte for byte a Prometheus head's for the same samples
(``tests/integration/tsdb/test_histogram_chunks_prometheus.py``), so bytes per
sample in blocks equal Prometheus's.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time

import numpy as np

from tidewell.model import Labels, SampleBatch
from tidewell.model.histogram import Histogram
from tidewell.tsdb.block import BlockReader, BlockWriter
from tidewell.tsdb.head import Head
from tidewell.tsdb.head.compact import block_series

RANGE = 7_200_000


def scrapes(n_series: int, n_scrapes: int, n_buckets: int) -> list[SampleBatch]:
    rnd = random.Random(1)
    labels = [Labels.from_dict({"__name__": "http_request_duration_seconds", "job": "api",
                                "instance": f"host-{i}:9100"}) for i in range(n_series)]
    counts = [[0] * n_buckets for _ in range(n_series)]
    first = n_buckets // 2
    spans = ((-5, first), (2, n_buckets - first))
    t0 = 1_700_000_000_000 // RANGE * RANGE
    out = []
    for s in range(n_scrapes):
        hs = []
        for b in counts:
            for k in range(n_buckets):
                b[k] += rnd.randint(0, 5)
            hs.append(Histogram(schema=3, zero_threshold=2.0**-128, count=float(sum(b)),
                                sum=sum(b) * 0.37, positive_spans=spans,
                                positive_buckets=tuple(map(float, b)), integer=True))
        out.append(SampleBatch(labels=labels, hist_series_index=np.arange(n_series, dtype=np.int32),
                               hist_timestamps=np.full(n_series, t0 + 15_000 * s, np.int64),
                               histograms=hs))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--scrapes", type=int, default=240)
    ap.add_argument("--buckets", type=int, default=20)
    args = ap.parse_args()
    batches = scrapes(args.series, args.scrapes, args.buckets)
    n = args.series * args.scrapes
    head = Head(block_range_ms=RANGE)
    t = time.perf_counter()
    for b in batches:
        res = head.append(b)
        assert res.rejected_total == 0, res.first_error
    dt = time.perf_counter() - t
    print(f"head append: {n / dt:,.0f} histograms/s ({n} histograms of {args.buckets} buckets "
          f"in {dt:.2f}s, one core)")
    lo = int(batches[0].hist_timestamps[0]) // RANGE * RANGE
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        w = BlockWriter(d, min_time=lo, max_time=lo + RANGE)
        for labels, chunks in block_series(head, lo, lo + RANGE):
            w.add_series_chunks(labels, chunks)
        meta = w.finish()
        cut = time.perf_counter() - t
        seg = os.path.join(w.path, "chunks")
        size = sum(os.path.getsize(os.path.join(seg, f)) for f in os.listdir(seg))
        print(f"block cut: {cut:.2f}s; {meta.num_samples} samples in {meta.num_chunks} chunks, "
              f"{size / meta.num_samples:.2f} B/histogram sample in chunk files")
        t = time.perf_counter()
        with BlockReader(w.path) as br:
            got = br.querier(lo, lo + RANGE).select([])
        dt = time.perf_counter() - t
        read = sum(len(s.histograms) for s in got if s.histograms is not None)
        print(f"block read: {read / dt:,.0f} histograms/s decoded into Series")


if __name__ == "__main__":
    main()
