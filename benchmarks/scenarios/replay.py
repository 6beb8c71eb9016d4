"""Scenario 5, replay: catch-up rate after a restart, in samples/s.

Tidewell: samples are written by a distributor-only process (so they sit in
the log, unconsumed), then a full process starts on the same data directory
and its ingester must read them all. Caught up = ``/ready`` answered and the
last sample of every load stream is queryable (then all series are checked).
Prometheus: samples are written, the server is stopped and restarted, and
``/-/ready`` waits for its WAL replay. Both figures subtract the same
system's start-up time on an empty data directory.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import time

from benchmarks.launch import Server
from benchmarks.scenarios.catchup import check_complete, wait_caught_up
from benchmarks.scenarios.common import (
    Context,
    Figure,
    NotAvailable,
    build_rows,
    make_server,
    measure_all,
    push,
    started,
)
from benchmarks.stats import Row
from benchmarks.workload import Workload

log = logging.getLogger("benchmarks")

ROUNDS = 30
CATCHUP_WAIT_S = 300.0
_FROM_START = "-ingest-storage.kafka.consume-from-position-at-startup=start"


def _tidewell_flags() -> str:
    try:
        return subprocess.run([sys.executable, "-m", "tidewell", "-help"], capture_output=True,
                              text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def _empty_start(srv: Server, ctx: Context) -> float:
    st = started(srv, ctx.ready_timeout_s)
    with st:
        pass
    return st.ready_s


def run(ctx: Context) -> list[Row]:
    series = ctx.n(100_000)
    wl = Workload(ctx.spec(series, start_ms=ctx.past_start_ms(ROUNDS)))
    log.info("replay: encoding %d series x %d rounds", series, ROUNDS)
    batch = wl.encode(ROUNDS)
    n = batch.samples
    probes, first = wl.probes(), wl.first_probe
    help_text = _tidewell_flags() if "tidewell" in ctx.systems else ""
    notes: dict[str, str] = {}

    def tidewell_once() -> Figure:
        base = _empty_start(make_server("tidewell", ctx, "replay-empty"), ctx)
        data = make_server("tidewell", ctx, "replay").data_dir
        can_rewind = "consume-from-position-at-startup" in help_text
        writer = make_server("tidewell", ctx, "replay", data_dir=data,
                             extra_args=["-target=distributor"])
        try:
            with started(writer, ctx.ready_timeout_s) as srv:
                push(srv, batch, ctx, what="write with -target=distributor")
            notes["method"] = "Tidewell: written by -target=distributor, read by -target=all"
        except NotAvailable as exc:
            if not can_rewind:
                raise
            # A distributor-only process cannot take the writes here: write with
            # everything (fresh directory), then drop all local state but the
            # log, and make the ingester read the log from its start.
            data = make_server("tidewell", ctx, "replay").data_dir
            with started(make_server("tidewell", ctx, "replay", data_dir=data),
                         ctx.ready_timeout_s) as srv:
                push(srv, batch, ctx)
            for entry in data.iterdir():
                if entry.name != "log":
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            notes["method"] = (
                "Tidewell: written by -target=all, local state but the log deleted, restarted "
                f"with consume-from-position-at-startup=start (distributor-only: {str(exc)[:120]})"
            )
        extra = [_FROM_START] if can_rewind else []
        reader = make_server("tidewell", ctx, "replay", data_dir=data, extra_args=extra)
        st = started(reader, CATCHUP_WAIT_S)
        with st as srv:
            lag = wait_caught_up(srv, probes, CATCHUP_WAIT_S, first)
            done = time.perf_counter() - srv.started_at
            if lag is None:
                notes["caught"] = "Tidewell: caught up = /ready (no query API to check)"
            else:
                check_complete(srv, wl)
        return {"rate": n / max(done - base, 1e-3), "ready": done, "base": base}

    def prometheus_once() -> Figure:
        srv = make_server("prometheus", ctx, "replay")
        base = _empty_start(srv, ctx)  # the same, still empty, data dir
        with started(srv, ctx.ready_timeout_s):
            push(srv, batch, ctx)
        st = started(srv, CATCHUP_WAIT_S)
        with st:
            ready = st.ready_s
            wait_caught_up(srv, probes, CATCHUP_WAIT_S, first)  # sanity: replayed means queryable
            check_complete(srv, wl)
        return {"rate": n / max(ready - base, 1e-3), "ready": ready, "base": base}

    def measure(system: str) -> list[Figure]:
        once = tidewell_once if system == "tidewell" else prometheus_once
        return [once() for _ in range(ctx.reps)]

    results = measure_all(ctx, measure, only=("tidewell", "prometheus"))
    method = notes.pop("method", "Tidewell: log catch-up")
    notes["rate"] = "; ".join(
        x for x in ("Prometheus: WAL replay at restart", method, notes.get("caught")) if x)
    return build_rows(
        f"replay ({n} samples, {series} series)",
        results,
        [
            ("rate", "catch-up rate (restart, minus empty start-up)", "samples/s", "higher"),
            ("ready", "restart to caught up", "s", "lower"),
            ("base", "start-up with empty data dir", "s", "lower"),
        ],
        notes,
    )
