"""Scenario 2, memory: resident bytes per active series.

Each repetition starts a fresh server, reads its idle RSS, writes two rounds
(so every series has a head chunk with samples), lets it settle, and reads
RSS again. Per-series figure = (RSS after - idle RSS) / series.
"""

from __future__ import annotations

import logging
import time

from benchmarks.scenarios.common import (
    Context,
    Figure,
    build_rows,
    make_server,
    measure_both,
    push,
    started,
    verify_series,
    wait_in_memory,
)
from benchmarks.stats import Row
from benchmarks.workload import Workload

log = logging.getLogger("benchmarks")

ROUNDS = 2
SETTLE_S = 3.0


def run(ctx: Context) -> list[Row]:
    rows: list[Row] = []
    for base in (100_000, 1_000_000):
        series = ctx.n(base)
        wl = Workload(ctx.spec(series, start_ms=ctx.past_start_ms(ROUNDS)))
        log.info("memory: encoding %d series x %d rounds", series, ROUNDS)
        batch = wl.encode(ROUNDS)

        def measure(system: str, batch=batch, series=series, wl=wl) -> list[Figure]:
            figures = []
            for _ in range(ctx.reps):
                with started(make_server(system, ctx, "memory"), ctx.ready_timeout_s) as srv:
                    time.sleep(1.0)
                    idle = srv.rss_bytes()
                    push(srv, batch, ctx)
                    wait_in_memory(srv, series)
                    verify_series(srv, series, at_s=(wl.start_ms + ROUNDS * wl.interval_ms) / 1000)
                    time.sleep(SETTLE_S)
                    rss = srv.rss_bytes()
                    figures.append(
                        {
                            "per_series": (rss - idle) / series,
                            "rss_mb": rss / 2**20,
                            "hwm_mb": srv.hwm_bytes() / 2**20,
                        }
                    )
            return figures

        rows += build_rows(
            f"memory ({series} series)",
            measure_both(ctx, measure),
            [
                ("per_series", "resident bytes per active series (over idle)", "B", "lower"),
                ("rss_mb", "resident memory (VmRSS) after ingest", "MiB", "lower"),
                ("hwm_mb", "peak resident memory (VmHWM)", "MiB", "lower"),
            ],
            notes={"per_series": f"{ROUNDS} samples per series, read {SETTLE_S:.0f}s after"},
        )
    return rows
