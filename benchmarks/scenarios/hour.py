"""Scenario "hour" (issue 4): 1M series x 1 h of 15 s samples — memory, then restarts.

Per system, one server on a fresh directory (its start-up time there is the
empty-directory baseline). Warm-up series first, as in the memory scenario,
then RSS; then 30 minutes of data (rounds 1-120, timestamps in the past ending
near now), stored = probes queryable and every series in memory, settle, RSS;
then the next 30 minutes the same way, and a completeness count.

Restarts, on the same directory: SIGKILL first (a crash right after an hour
of ingest: whatever the system made durable on its own, it must replay), then
a clean SIGTERM stop (timed) and a start again. Each restart is timed to
ready and to caught up (the last sample of every stream queryable), then every
series' last sample is counted. Replay rate = samples held / (restart to
caught up - empty-directory start-up), as in the replay scenario.

240M samples cannot be pre-encoded: ``Workload.stream`` encodes each round
just before it is sent. Both servers get two cores here (``SERVER_CORES``):
one core cannot load 240M samples into Prometheus in reasonable time.
"""

from __future__ import annotations

import logging
import shutil
import time

from benchmarks.launch import Server, ServerError, dir_size
from benchmarks.loadgen import send_stream_sync
from benchmarks.scenarios.catchup import check_complete, wait_caught_up
from benchmarks.scenarios.common import (
    Context,
    Figure,
    NotAvailable,
    build_rows,
    make_server,
    measure_all,
    push,
    wait_in_memory,
)
from benchmarks.scenarios.memory import SETTLE_S, WARMUP_SERIES
from benchmarks.stats import Row
from benchmarks.workload import Workload

__all__ = ["SERVER_CORES", "run"]

log = logging.getLogger("benchmarks")

SERVER_CORES = "0,1"
"""Default ``--server-cores`` for this scenario."""
ROUNDS_PER_HALF = 120  # 30 min of 15 s scrapes
WARMUP_ROUNDS = 2
MIN_LOAD_RATE = 20_000
"""samples/s: loading slower than this (and than --max-push-seconds) makes the figures n/a."""
STOP_TIMEOUT_S = 900.0
RESTART_TIMEOUT_S = 1800.0
DISK_BYTES_PER_SAMPLE = {"tidewell": 32.0, "prometheus": 12.0}
"""Data directory bytes per sample after the hour, rounded up from scale-0.01/0.05 runs (28, 11)."""


def _load(srv: Server, wl: Workload, rounds: int, ctx: Context, what: str) -> float:
    """Stream ``rounds`` rounds to ``srv`` and wait until stored; returns the wall time."""
    samples = rounds * wl.spec.series
    limit = max(ctx.max_push_s, samples / MIN_LOAD_RATE)
    t0 = time.perf_counter()
    res = send_stream_sync(srv.push_url, wl.stream(rounds), shards=wl.spec.shards,
                           deadline_s=limit)
    if res.failed_samples:
        exited = srv.proc is not None and srv.proc.poll() is not None
        tail = f" (server exited: {srv.log_tail(4)})" if exited else ""
        raise NotAvailable(f"{what}: {res.failed_samples} samples rejected, first error "
                           f"{res.first_error()}{tail}")
    if res.accepted_samples < samples:
        raise NotAvailable(f"{what}: too slow, {res.accepted_samples}/{samples} samples sent in "
                           f"{limit:.0f}s (raise --max-push-seconds or lower --scale)")
    wait_caught_up(srv, wl.probes(), limit, wl.first_probe)
    took = time.perf_counter() - t0
    log.info("hour: %s: %d samples stored in %.1fs (%.0f samples/s)", what, samples, took,
             samples / took)
    return took


def _start(srv: Server, timeout_s: float) -> float:
    """Start ``srv``; seconds to ready (a failed start makes the figures n/a)."""
    srv.start()
    try:
        return srv.wait_ready(timeout_s)
    except ServerError as exc:
        raise NotAvailable(str(exc)) from exc


def _restart(srv: Server, wl: Workload) -> tuple[float, float]:
    """Start ``srv`` on its data; (seconds to ready, seconds to caught up and complete)."""
    ready = _start(srv, RESTART_TIMEOUT_S)
    wait_caught_up(srv, wl.probes(), RESTART_TIMEOUT_S, wl.first_probe)
    caught = time.perf_counter() - srv.started_at
    check_complete(srv, wl)
    log.info("hour: every series complete, checked in %.1fs",
             time.perf_counter() - srv.started_at - caught)
    return ready, caught


def _check_disk(ctx: Context, samples: int) -> None:
    """Refuse to start without room for the largest data directory, three times over."""
    per_sample = max(DISK_BYTES_PER_SAMPLE.get(s, 0.0) for s in ctx.systems)
    need = per_sample * samples * 3
    free = shutil.disk_usage(ctx.workdir).free
    if free < need:
        raise SystemExit(f"hour: {free / 2**30:.1f} GiB free under {ctx.workdir}, need about "
                         f"{need / 2**30:.1f} GiB ({per_sample:g} B/sample x {samples} samples "
                         "x 3); pass --workdir on a larger disk or lower --scale")


def run(ctx: Context) -> list[Row]:
    if ctx.protocol != 1 or ctx.churn:
        raise SystemExit("hour: needs --protocol 1 and --churn 0 (the streaming encoder)")
    series = ctx.n(1_000_000)
    rounds = 2 * ROUNDS_PER_HALF
    _check_disk(ctx, series * rounds)
    notes: dict[str, str] = {}

    def once(system: str) -> Figure:
        # timestamps end near now for each run (the data are the same, shifted)
        wl = Workload(ctx.spec(series, start_ms=ctx.past_start_ms(rounds)))
        warm = Workload(ctx.spec(WARMUP_SERIES, start_ms=wl.start_ms, metric_prefix="warmup"))
        held = series * rounds + WARMUP_SERIES * WARMUP_ROUNDS
        srv = make_server(system, ctx, "hour")
        fig: Figure = {}
        try:
            base = fig["base"] = _start(srv, ctx.ready_timeout_s)
            push(srv, warm.encode(WARMUP_ROUNDS), ctx, what="warm-up")
            wait_in_memory(srv, WARMUP_SERIES)
            time.sleep(1.0)
            idle = srv.rss_bytes()
            for minutes in (30, 60):
                took = _load(srv, wl, ROUNDS_PER_HALF, ctx, f"{minutes} min of data")
                fig[f"load_{minutes}"] = took
                wait_in_memory(srv, WARMUP_SERIES + series, RESTART_TIMEOUT_S)
                time.sleep(SETTLE_S)
                rss = srv.rss_bytes()
                fig[f"per_series_{minutes}"] = (rss - idle) / series
                fig[f"rss_{minutes}"] = rss / 2**20
            fig["hwm"] = srv.hwm_bytes() / 2**20
            fig["load_rate"] = series * rounds / (fig["load_30"] + fig["load_60"])
            check_complete(srv, wl)
            fig["disk"] = dir_size(srv.data_dir) / (series * rounds)

            srv.kill()
            fig["kill_ready"], fig["kill_caught"] = _restart(srv, wl)
            fig["kill_rate"] = held / max(fig["kill_caught"] - base, 1e-3)
            log.info("hour: %s restart after SIGKILL: ready %.1fs, caught up %.1fs", system,
                     fig["kill_ready"], fig["kill_caught"])

            stop_s = srv.stop(STOP_TIMEOUT_S)
            if srv.proc is not None and srv.proc.returncode == -9:
                notes["stop"] = f"{system}: SIGTERM did not stop it in {STOP_TIMEOUT_S:.0f}s"
            else:
                fig["stop"] = stop_s
            fig["clean_ready"], fig["clean_caught"] = _restart(srv, wl)
            fig["clean_rate"] = held / max(fig["clean_caught"] - base, 1e-3)
            fig["rss_restart"] = srv.rss_bytes() / 2**20
            log.info("hour: %s stop %.1fs; restart: ready %.1fs, caught up %.1fs", system,
                     stop_s, fig["clean_ready"], fig["clean_caught"])
        finally:
            srv.stop(STOP_TIMEOUT_S)
            shutil.rmtree(srv.data_dir, ignore_errors=True)
        return fig

    results = measure_all(ctx, lambda system: [once(system) for _ in range(ctx.reps)],
                          only=("tidewell", "prometheus"))
    cores = ctx.server_cores
    notes["per_series_30"] = (
        f"servers on cores {cores} (Prometheus GOMAXPROCS={len(cores.split(','))}): one core "
        f"cannot load the full-size hour into Prometheus in reasonable time; "
        f"{ctx.shards} streams of {ctx.samples_per_request} samples/request; "
        f"over {WARMUP_SERIES} warm-up series, read {SETTLE_S:g}s after stored")
    notes["kill_ready"] = "SIGKILL right after the hour was stored, before any clean stop"
    notes["kill_rate"] = "samples held / (restart to caught up - empty-directory start-up)"
    notes["stop"] = notes.get("stop", "SIGTERM to exit (Tidewell writes a head snapshot)")
    return build_rows(
        f"hour ({series} series x {rounds} samples, 15 s)",
        results,
        [
            ("per_series_30", "resident bytes per active series after 30 min", "B", "lower"),
            ("rss_30", "resident memory (VmRSS) after 30 min", "MiB", "lower"),
            ("per_series_60", "resident bytes per active series after 60 min", "B", "lower"),
            ("rss_60", "resident memory (VmRSS) after 60 min", "MiB", "lower"),
            ("hwm", "peak resident memory (VmHWM) over the hour", "MiB", "lower"),
            ("load_rate", "samples/s stored while loading the hour", "samples/s", "higher"),
            ("load_30", "wall time to load minutes 0-30 (until stored)", "s", "lower"),
            ("load_60", "wall time to load minutes 30-60 (until stored)", "s", "lower"),
            ("disk", "data directory bytes per sample after the hour", "B/sample", "lower"),
            ("kill_ready", "restart after SIGKILL: time to ready", "s", "lower"),
            ("kill_caught", "restart after SIGKILL: time to caught up", "s", "lower"),
            ("kill_rate", "replay rate after SIGKILL", "samples/s", "higher"),
            ("stop", "clean stop: time to exit", "s", "lower"),
            ("clean_ready", "restart after clean stop: time to ready", "s", "lower"),
            ("clean_caught", "restart after clean stop: time to caught up", "s", "lower"),
            ("clean_rate", "replay rate after clean stop", "samples/s", "higher"),
            ("rss_restart", "resident memory (VmRSS) after the clean restart", "MiB", "lower"),
            ("base", "start-up with empty data dir", "s", "lower"),
        ],
        notes,
    )
