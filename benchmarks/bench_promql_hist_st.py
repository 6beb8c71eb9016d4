"""Counter functions over native histograms, with and without start timestamps.

Run: ``python benchmarks/bench_promql_hist_st.py [--series 50] [--samples 240] [--st]``.
Engine only (no HTTP, no storage): ``--series`` counter histograms (4 buckets) scraped
every 15 s; a range query over the whole span at a 1 m step, best CPU time of 7 runs
(CPU, not wall time: the machine is shared). ``--st`` gives every sample a start
timestamp, which sends the windows through the start-timestamp rules of ``hrange``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np

from tidewell.model import Histogram, HistogramSamples, Labels, Matcher, Series
from tidewell.promql import Engine

STEP = 15_000
QUERIES = ("rate(h[5m])", "increase(h[5m])", "irate(h[5m])", "resets(h[5m])")


class Fixed:
    """The same series for every selector (one metric)."""

    def __init__(self, series: list[Series]) -> None:
        self.series = series

    def querier(self, tenant: str, mint: int, maxt: int) -> Fixed:
        return self

    def select(self, matchers: Sequence[Matcher], hints: object = None) -> list[Series]:
        return self.series

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return []

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        return []


def dataset(n: int, samples: int, st: bool) -> list[Series]:
    ts = np.arange(samples, dtype=np.int64) * STEP + STEP
    hs = [Histogram(count=4.0 * k, sum=6.0 * k, positive_spans=((0, 4),),
                    positive_buckets=(k, k, k, k)) for k in range(samples)]
    sts = np.full(samples, 1, dtype=np.int64) if st else None
    return [Series(Labels([("__name__", "h"), ("i", str(i))]), np.zeros(0, np.int64),
                   np.zeros(0), None, HistogramSamples(ts, hs, sts)) for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=50)
    ap.add_argument("--samples", type=int, default=240)
    ap.add_argument("--st", action="store_true")
    args = ap.parse_args()
    store = Fixed(dataset(args.series, args.samples, args.st))
    eng = Engine()
    end = args.samples * STEP
    for q in QUERIES:
        eng.range_query(store, "t", q, 300_000, end, 60_000)
        best = float("inf")
        for _ in range(7):
            t = time.process_time()
            eng.range_query(store, "t", q, 300_000, end, 60_000)
            best = min(best, time.process_time() - t)
        print(f"{q:18s} {best * 1000:7.1f} ms CPU")


if __name__ == "__main__":
    main()
