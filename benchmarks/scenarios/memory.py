"""Scenario 2, memory: resident bytes per active series.

Each repetition starts a fresh server, reads its RSS with no data (the floor:
interpreter, libraries, compiled code), then writes a small, separate set
of warm-up series (other metric names), so one-time costs of the first writes
(code compilation, pools, caches) are not charged to the series. Then it reads
RSS, writes two rounds of the measured series (so each has a head chunk),
waits until they are all in memory and queryable, lets it settle, and reads
RSS again: per-series figure = (RSS after - RSS after warm-up) / series.
"""

from __future__ import annotations

import logging
import time

from benchmarks.scenarios.common import (
    Context,
    Figure,
    build_rows,
    make_server,
    measure_all,
    push,
    started,
    verify_series,
    wait_in_memory,
)
from benchmarks.stats import Row
from benchmarks.workload import Workload

log = logging.getLogger("benchmarks")

ROUNDS = 2
WARMUP_SERIES = 2000
SETTLE_S = 3.0


def run(ctx: Context) -> list[Row]:
    rows: list[Row] = []
    for base in (100_000, 1_000_000):
        series = ctx.n(base)
        wl = Workload(ctx.spec(series, start_ms=ctx.past_start_ms(ROUNDS)))
        log.info("memory: encoding %d series x %d rounds", series, ROUNDS)
        batch = wl.encode(ROUNDS)
        warm = Workload(ctx.spec(WARMUP_SERIES, start_ms=wl.start_ms, metric_prefix="warmup"))
        warm_batch = warm.encode(ROUNDS)

        def measure(system: str, batch=batch, series=series, wl=wl,
                    warm_batch=warm_batch) -> list[Figure]:
            figures = []
            for _ in range(ctx.reps):
                with started(make_server(system, ctx, "memory"), ctx.ready_timeout_s) as srv:
                    time.sleep(1.0)
                    empty = srv.rss_bytes()
                    push(srv, warm_batch, ctx, what="warm-up")
                    wait_in_memory(srv, WARMUP_SERIES)
                    time.sleep(1.0)
                    idle = srv.rss_bytes()
                    push(srv, batch, ctx)
                    wait_in_memory(srv, WARMUP_SERIES + series)
                    verify_series(srv, series, at_s=(wl.start_ms + ROUNDS * wl.interval_ms) / 1000)
                    time.sleep(SETTLE_S)
                    rss = srv.rss_bytes()
                    figures.append(
                        {
                            "per_series": (rss - idle) / series,
                            "empty_mb": empty / 2**20,
                            "rss_mb": rss / 2**20,
                            "hwm_mb": srv.hwm_bytes() / 2**20,
                        }
                    )
            return figures

        rows += build_rows(
            f"memory ({series} series)",
            measure_all(ctx, measure),
            [
                ("per_series", "resident bytes per active series (over warm-up)", "B", "lower"),
                ("empty_mb", "resident memory (VmRSS) of the started server, no data",
                 "MiB", "lower"),
                ("rss_mb", "resident memory (VmRSS) after ingest", "MiB", "lower"),
                ("hwm_mb", "peak resident memory (VmHWM)", "MiB", "lower"),
            ],
            notes={"per_series": f"{ROUNDS} samples per series, read {SETTLE_S:.0f}s after; "
                   f"after {WARMUP_SERIES} warm-up series"},
        )
    return rows
