"""Query sharding in one process: a query-frontend in front of the querier API over a head.

Run: ``python benchmarks/bench_sharding.py [--series 10000] [--hours 6] [--shards 0,2,4]``

The head holds ``--series`` counters (15 s samples over ``--hours``) in 10 jobs; each
query shape runs as a range query over the whole span at a 60 s step through the
frontend (in-process ASGI, as ``-target=all`` wires it), median of 5, for every shard
count (0 = sharding off). One process on two cores: the shards share the GIL, so this
measures the overhead and whatever the compiled kernels gain by running in parallel,
not the gain of spreading shards over several queriers.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx
import numpy as np
from starlette.applications import Starlette
from starlette.routing import Mount

from tidewell.api.prometheus.routes import query_routes
from tidewell.frontend import FrontendConfig, HTTPDownstream, QueryFrontend, QueryRequest
from tidewell.frontend.request import RANGE
from tidewell.frontend.sharding import ShardingLimits
from tidewell.model import Labels, SampleBatch
from tidewell.querier.config import QuerierConfig
from tidewell.tsdb.head import Head, HeadQuerier

QUERIES = [
    "sum by (job) (rate(c_total[5m]))",
    "avg(rate(c_total[5m]))",
    "max by (job) (c_total)",
    "count(rate(c_total[5m]) > 0.5)",
]


class HeadQueryable:
    def __init__(self, head: Head) -> None:
        self.head = head

    def querier(self, tenant: str, mint: int, maxt: int) -> HeadQuerier:
        return HeadQuerier(self.head, mint, maxt)


def build_head(series: int, hours: int) -> Head:
    head = Head()
    labels = [Labels([("__name__", "c_total"), ("i", str(i)), ("job", f"j{i % 10}")])
              for i in range(series)]
    idx = np.arange(series, dtype=np.int32)
    rng = np.random.default_rng(1)
    vals = np.zeros(series)
    for t in range(0, hours * 3_600_000, 15_000):
        vals += rng.random(series)
        head.append(SampleBatch(labels, idx, np.full(series, t, dtype=np.int64), vals.copy()))
    return head


async def run(head: Head, shards: int, end: int) -> dict[str, float]:
    app = Starlette(routes=[Mount("/prometheus", routes=query_routes(
        HeadQueryable(head), QuerierConfig()))])
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
                               base_url="http://querier", timeout=None)
    fe = QueryFrontend(
        FrontendConfig(parallelize_shardable_queries=shards > 1, cache_results=False,
                       split_queries_by_interval=0),
        HTTPDownstream(client),
        sharding=ShardingLimits(lambda t: shards, lambda t: 128, lambda t: False))
    out = {}
    try:
        for q in QUERIES:
            req = QueryRequest(RANGE, "t", q, 0, end, 60_000)
            assert (await fe.do(req)).ok  # warm-up
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                assert (await fe.do(req)).ok
                times.append(time.perf_counter() - t0)
            out[q] = statistics.median(times)
    finally:
        await fe.close()
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--series", type=int, default=10_000)
    p.add_argument("--hours", type=int, default=6)
    p.add_argument("--shards", default="0,2,4")
    a = p.parse_args()
    t0 = time.perf_counter()
    head = build_head(a.series, a.hours)
    print(f"head: {a.series} series x {a.hours} h of 15 s samples "
          f"({time.perf_counter() - t0:.0f} s to load)")
    counts = [int(s) for s in a.shards.split(",")]
    results = {n: asyncio.run(run(head, n, a.hours * 3_600_000 - 15_000)) for n in counts}
    print(f"{'query':40s} " + " ".join(f"{('shards=' + str(n)):>10s}" for n in counts))
    for q in QUERIES:
        print(f"{q:40s} " + " ".join(f"{results[n][q] * 1000:8.0f}ms" for n in counts))


if __name__ == "__main__":
    main()
