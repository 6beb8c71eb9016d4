"""Scenario "million" (issue 14): 1M active series on embedded defaults, with no 429.

Issue 14 found that a stock Prometheus pushing more than 10k samples/s got 429s
on embedded defaults. Here Tidewell runs with no flag but its address and data
directory (``EmbeddedDefaultsTidewell``: none of the harness's lifted limits),
and four streams push ``ROUNDS`` 15 s rounds of 1M series (``--scale`` scales the
count) as fast as it takes them, far faster than a Prometheus scraping 1M
series every 15 s would (66.7k samples/s). Any rejected request (429 or other)
is counted and its first error shown; the target is none. Then every series
must be in memory, and RSS is read.
"""

from __future__ import annotations

import logging
import time

from benchmarks.launch import TIDEWELL_BENCH_ARGS, TidewellServer
from benchmarks.loadgen import send_stream_sync
from benchmarks.scenarios.common import (
    Context,
    Figure,
    NotAvailable,
    build_rows,
    measure_all,
    started,
    wait_in_memory,
)
from benchmarks.stats import Row
from benchmarks.workload import Workload

__all__ = ["SERVER_CORES", "EmbeddedDefaultsTidewell", "run"]

log = logging.getLogger("benchmarks")

SERVER_CORES = "0,1"
ROUNDS = 4
STOCK_RATE = 1_000_000 / 15
"""samples/s of a Prometheus scraping 1M series every 15 s."""


class EmbeddedDefaultsTidewell(TidewellServer):
    """``tidewell`` as a newcomer starts it: no limit lifted."""

    def command(self) -> list[str]:
        return [a for a in super().command() if a not in TIDEWELL_BENCH_ARGS]


def run(ctx: Context) -> list[Row]:
    series = ctx.n(1_000_000)

    def measure(system: str) -> list[Figure]:
        figures: list[Figure] = []
        for rep in range(ctx.reps):
            wl = Workload(ctx.spec(series, start_ms=ctx.past_start_ms(ROUNDS)))
            srv = EmbeddedDefaultsTidewell(ctx.workdir / f"million-{rep}",
                                           cores=ctx.server_cores)
            with started(srv, ctx.ready_timeout_s):
                log.info("million: %d series x %d rounds, streamed", series, ROUNDS)
                res = send_stream_sync(srv.push_url, wl.stream(ROUNDS), shards=ctx.shards,
                                       protocol=ctx.protocol, deadline_s=ctx.max_push_s)
                rejected = sum(res.errors.values())
                if res.errors:
                    log.warning("million: %d requests rejected, first: %s", rejected,
                                res.first_error())
                if res.accepted_samples + res.failed_samples < series * ROUNDS:
                    raise NotAvailable(f"only {res.accepted_samples} samples sent in "
                                       f"{ctx.max_push_s:.0f}s")
                wait_in_memory(srv, series, wait_s=120)
                time.sleep(2)
                figures.append({
                    "rate": res.samples_per_s,
                    "rejected": float(rejected),
                    "status_429": float(sum(n for e, n in res.errors.items()
                                            if e.startswith("HTTP 429"))),
                    "p99": sorted(res.latencies_s)[int(0.99 * (len(res.latencies_s) - 1))]
                    * 1000,
                    "rss_gb": srv.rss_bytes() / 2**30,
                })
                log.info("million rep %d: %s", rep + 1,
                         " ".join(f"{k}={v:.2f}" for k, v in figures[-1].items()))
        return figures

    return build_rows(
        f"million ({series} series, embedded defaults)",
        measure_all(ctx, measure, only=("tidewell",)),
        [
            ("rate", "samples/s accepted (4 streams, as fast as taken)", "samples/s", "higher"),
            ("rejected", "requests rejected (any status)", "requests", "lower"),
            ("status_429", "requests answered 429", "requests", "lower"),
            ("p99", "push latency p99", "ms", "lower"),
            ("rss_gb", "resident memory after, all series in memory", "GiB", "lower"),
        ],
        notes={"rate": f"{ROUNDS} rounds; a stock Prometheus at 15 s sends "
               f"{STOCK_RATE * series / 1_000_000:,.0f} samples/s",
               "rejected": "target: 0 (no flag set but address and data dir)"},
    )
