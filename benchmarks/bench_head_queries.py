"""PromQL over one in-memory head, in process: the engine and head read costs alone.

Run: ``python -m benchmarks.bench_head_queries [--series 5000] [--repeat 2]``.

Two workloads, CPU time of this process (``time.process_time``), no HTTP:

* rules: ``--series`` counters with 10 minutes of 15 s samples, labelled for 200
  rules as ``benchmarks.bench_ruler`` writes them; the 200 instant queries
  ``sum by (job) (rate(bench_metric{rule="rN"}[10m]))`` a ruler evaluates (25 series
  each at 5,000 series). Reported: evaluations per CPU-second.
* dashboard: 1,000 series with 6 hours of 15 s samples; three range queries over the 6 h
  at a 60 s step (a 100-series selector, ``rate`` of 500 series, ``sum by`` of
  ``rate`` over all). Reported: CPU ms per query.

This is the part of ``bench_ruler``'s and the query scenario's cost that the head and
the engine own; the rest is HTTP, the query-frontend and the write path.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from tidewell.model import Labels, SampleBatch
from tidewell.promql.engine import Engine
from tidewell.tsdb.head import Head, HeadQuerier

RULES = 200


class _HeadQueryable:
    def __init__(self, head: Head) -> None:
        self.head = head

    def querier(self, tenant: str, mint: int, maxt: int) -> HeadQuerier:
        return HeadQuerier(self.head, mint, maxt)


def _fill(series: list[Labels], steps: int, now: int) -> Head:
    head = Head(block_range_ms=1 << 40)
    n = len(series)
    idx = np.arange(n, dtype=np.int32)
    for step in range(steps):
        ts = now - (steps - 1 - step) * 15_000
        head.append(SampleBatch(labels=series, series_index=idx,
                                timestamps=np.full(n, ts, dtype=np.int64),
                                values=(idx % 7 + 1).astype(np.float64) * step))
    return head


def rules(n: int, repeat: int, engine: Engine) -> float:
    now = int(time.time()) * 1000
    series = [Labels([("__name__", "bench_metric"), ("instance", f"i{i}"), ("job", f"j{i % 5}"),
                      ("rule", f"r{i % RULES}")]) for i in range(n)]
    q = _HeadQueryable(_fill(series, 40, now))
    queries = [f'sum by (job) (rate(bench_metric{{rule="r{i}"}}[10m]))' for i in range(RULES)]
    for text in queries[:5]:
        engine.instant_query(q, "t", text, now)
    t0 = time.process_time()
    for _ in range(repeat):
        for text in queries:
            engine.instant_query(q, "t", text, now)
    return repeat * len(queries) / (time.process_time() - t0)


def dashboard(repeat: int, engine: Engine) -> dict[str, float]:
    now = int(time.time()) * 1000
    series = [Labels([("__name__", "bench_http_requests_total"), ("code", ("200", "500")[i % 2]),
                      ("handler", f"h{i % 10}"), ("instance", f"i{i}"), ("job", f"j{i % 5}")])
              for i in range(1000)]
    q = _HeadQueryable(_fill(series, 1440, now))
    start, end = now - 6 * 3_600_000 + 60_000, now
    out = {}
    for text in ('bench_http_requests_total{handler="h0",code="200"}',
                 'rate(bench_http_requests_total{code="200"}[5m])',
                 "sum by (job) (rate(bench_http_requests_total[5m]))"):
        engine.range_query(q, "t", text, start, end, 60_000)
        t0 = time.process_time()
        for _ in range(repeat):
            engine.range_query(q, "t", text, start, end, 60_000)
        out[text] = (time.process_time() - t0) / repeat * 1000
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--series", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    engine = Engine()
    engine.warm_up(background=False)
    print(f"rules: {rules(args.series, args.repeat, engine):.0f} evaluations per CPU-s "
          f"({args.series} series, {RULES} rules)")
    for text, ms in dashboard(args.repeat + 1, engine).items():
        print(f"dashboard: {ms:7.1f} CPU ms  {text}")


if __name__ == "__main__":
    main()
