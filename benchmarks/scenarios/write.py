"""Scenario 1, write: samples/s on one core, and push latency, at steady state.

Series creation is excluded: the first rounds (every series' first samples)
are sent as warm-up, then each repetition sends further rounds of the same
series. The same pre-encoded bytes go to both systems. Two rates are
reported: *accepted* (acknowledged by the server: for Tidewell, durable in the
log) and *stored* (until the last sample of every stream is queryable: for
Tidewell, also consumed by the ingester). CPU per sample counts until stored.
"""

from __future__ import annotations

import logging
import os

from benchmarks.scenarios.catchup import check_complete, wait_caught_up
from benchmarks.scenarios.common import (
    Context,
    Figure,
    build_rows,
    measure_all,
    push,
    serve,
)
from benchmarks.stats import Row, quantile
from benchmarks.workload import Workload

log = logging.getLogger("benchmarks")

WARMUP_ROUNDS = 2
SAMPLES_PER_REP = 600_000  # ~3 s at Prometheus's speed: long enough to be steady


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


def run(ctx: Context) -> list[Row]:
    series = ctx.n(100_000)
    per_rep = max(1, -(-SAMPLES_PER_REP // series))
    total = WARMUP_ROUNDS + per_rep * ctx.reps
    start_ms = ctx.past_start_ms(total)
    log.info("write: encoding %d series x %d rounds", series, total)
    wl = Workload(ctx.spec(series, start_ms=start_ms))
    warmup = wl.encode(WARMUP_ROUNDS)
    warm_probes = (wl.probes(), wl.first_probe)
    reps = []
    for _ in range(ctx.reps):
        batch = wl.encode(per_rep)
        reps.append((batch, wl.probes(), wl.first_probe))
    verified: dict[str, bool] = {}
    cut_short: set[str] = set()

    def measure(system: str) -> list[Figure]:
        with serve(system, ctx, "write") as srv:
            push(srv, warmup, ctx, what="warm-up")
            wait_caught_up(srv, warm_probes[0], ctx.max_push_s, warm_probes[1])
            verified[system] = check_complete(srv, wl, WARMUP_ROUNDS - 1)
            figures = []
            for batch, probes, first in reps:
                cpu0, own0 = srv.cpu_seconds(), _own_cpu()
                res = push(srv, batch, ctx, deadline_s=ctx.rep_seconds)
                own = _own_cpu() - own0
                complete = res.accepted_samples == batch.samples
                if not complete:
                    cut_short.add(system)
                # stopped early at the deadline: the probes were never sent
                lag = wait_caught_up(srv, probes, ctx.max_push_s, first) if complete else None
                cpu = srv.cpu_seconds() - cpu0
                fig = {
                    "rate": res.samples_per_s,
                    "p50": quantile(res.latencies_s, 0.5) * 1000,
                    "p99": quantile(res.latencies_s, 0.99) * 1000,
                    "server_util": cpu / res.wall_s * 100,
                    "client_util": own / res.wall_s * 100,
                }
                if lag is not None:
                    fig["stored"] = res.accepted_samples / (res.wall_s + lag)
                    fig["per_cpu"] = res.accepted_samples / cpu if cpu > 0 else float("nan")
                figures.append(fig)
            return figures

    results = measure_all(ctx, measure)
    per_req = ctx.samples_per_request
    scen = f"write ({series} series, RW{'1.0' if ctx.protocol == 1 else '2.0'})"
    unverified = [s for s, ok in verified.items() if not ok]
    note = f"; series count not verified for {', '.join(unverified)}" if unverified else ""
    if ctx.protocol == 2:
        note += "; Prometheus 2.42 predates remote write 2.0 (it answers 2xx, stores nothing)"
    stored_note = (
        f"not measured for {', '.join(sorted(cut_short))}: a repetition hit --rep-seconds "
        f"({ctx.rep_seconds:g}s) before sending all its samples"
        if cut_short
        else ""
    )
    return build_rows(
        scen,
        results,
        [
            ("rate", "samples/s accepted (server on 1 core)", "samples/s", "higher"),
            ("stored", "samples/s stored (until queryable)", "samples/s", "higher"),
            ("per_cpu", "samples per server CPU-second (until stored)", "samples/CPU-s",
             "higher"),
            ("p50", f"push latency p50 ({per_req} samples/request)", "ms", "lower"),
            ("p99", f"push latency p99 ({per_req} samples/request)", "ms", "lower"),
            ("server_util", "server CPU time until stored / push wall time", "%", "higher"),
            ("client_util", "load generator CPU use (of its 1 core)", "%", "lower"),
        ],
        notes={
            "rate": f"{ctx.shards} concurrent streams, {per_rep} rounds/rep after "
            f"{WARMUP_ROUNDS} warm-up rounds{note}",
            "stored": stored_note,
            "per_cpu": "robust to a shared core: counts only the server's own CPU time",
            "client_util": "if near 100%, the load generator, not the server, set the pace",
        },
    )
