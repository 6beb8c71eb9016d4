"""Cost of late samples (older than the head takes in order, stored out of order).

Run: ``python benchmarks/bench_late_samples.py [--series 10000] [--scrapes 60]``.

A head holds ``scrapes`` in-order scrapes of ``series`` series and was cut (its
``min_valid_time`` is past them, as after a block cut); then a backlog of the same
shape, older than the cut, arrives in requests of 2,000 samples (a remote-write
backlog slipping past a stale floor). Printed: in-order append rate, late append
rate (before this change these samples were counted discarded, at the in-order
path's cost), and the block cut that moves them into out-of-order blocks.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from tidewell.ingester.head_cutting import compact_head
from tidewell.model import Labels, SampleBatch
from tidewell.tsdb.head import Head

PER_REQUEST = 2000
RANGE = 7_200_000
STEP = 15_000


def requests(labels: list[Labels], t0: int, scrapes: int) -> list[SampleBatch]:
    """One sample of every series per scrape, cut into requests of ``PER_REQUEST``."""
    out = []
    keys = np.zeros((len(labels), 2), dtype=np.uint64)
    keys[:, 0] = np.arange(len(labels), dtype=np.uint64)
    for k in range(scrapes):
        for i in range(0, len(labels), PER_REQUEST):
            part = labels[i : i + PER_REQUEST]
            n = len(part)
            out.append(SampleBatch(part, np.arange(n, dtype=np.int32),
                                   np.full(n, t0 + k * STEP, dtype=np.int64),
                                   np.full(n, float(k)), series_keys=keys[i : i + n]))
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--series", type=int, default=10_000)
    p.add_argument("--scrapes", type=int, default=60)
    a = p.parse_args()
    labels = [Labels.from_dict({"__name__": f"m{i % 100}", "id": str(i)})
              for i in range(a.series)]
    n = a.series * a.scrapes
    now = 100 * RANGE
    head = Head(RANGE)
    warm = Head(RANGE)  # compile the kernels outside the timings
    for b in requests(labels[:100], 0, 3):
        warm.append(b)

    t = time.perf_counter()
    for b in requests(labels, now, a.scrapes):
        head.append(b)
    in_order = time.perf_counter() - t
    head.truncate(now)  # as after a cut: everything older is late now

    late_t0 = now - 2 * RANGE  # an older range, already cut
    t = time.perf_counter()
    late = 0
    for b in requests(labels, late_t0, a.scrapes):
        res = head.append(b)
        late += res.late
    late_s = time.perf_counter() - t
    assert late == n, late

    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        metas, _ = compact_head(head, Path(d) / "t", 0)
        cut = time.perf_counter() - t
    print(f"{a.series} series x {a.scrapes} scrapes = {n:,} samples per phase")
    print(f"in order: {in_order:.2f} s, {n / in_order / 1e6:.2f}M samples/s")
    print(f"late:     {late_s:.2f} s, {n / late_s / 1e6:.2f}M samples/s "
          f"({late_s / in_order:.1f}x the in-order time)")
    print(f"cut of the late samples into {len(metas)} out-of-order block(s): {cut:.2f} s")


if __name__ == "__main__":
    main()
