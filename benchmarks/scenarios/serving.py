"""Scenario "serving" (issue 14): pushes and ``/ready`` beside query load and push saturation.

Issue 14 measured 20 pushes/s of 1,000 samples going from p99 12 ms to 1,039 ms
when 30 range-query loops ran beside them. Per system, one server (single
process, both cores) is loaded with 1,000 series x 2 h, then each repetition
runs two phases of the same push stream (20 pushes/s, 1,000 samples each, every
push followed by a ``/ready`` probe):

* idle: nothing else runs;
* loaded: 30 loops each asking ``sum by (job) (rate(m[5m]))`` over the last hour
  at a 15 s step, back to back. The loops run in another process, so the
  harness's own GIL does not delay the timed pushes.

Then the machine's floor: the same loaded phase with the query loops sent to a
second server of the same system holding the same data, so the pushed server
shares no process with the queries, only the two cores (and the harness). The
loaded/idle ratio there is what CPU contention alone costs a push on this machine.

Then a saturation phase: four streams push 2,000-sample requests as fast as the
server takes them while ``/ready`` is probed every 50 ms (the target is 100 ms).
The issue's goal: loaded push p99 within 2x of idle. Last, the same saturation
with the 30 query loops beside it: pushes go first (``-querier.write-priority-max-wait``),
but the queries must still be answered (their rate is reported).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import threading
import time
from collections.abc import Callable
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from typing import TypeVar

import httpx
import numpy as np

from benchmarks.launch import Server
from benchmarks.loadgen import send_stream_sync
from benchmarks.scenarios.common import (
    Context,
    Figure,
    NotAvailable,
    build_rows,
    make_server,
    measure_all,
    started,
)
from benchmarks.stats import Row
from benchmarks.workload import Workload
from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress

__all__ = ["QUERY", "SERIES", "SERVER_CORES", "load_data", "run"]

log = logging.getLogger("benchmarks")

T = TypeVar("T")

SERVER_CORES = "0,1"
SYSTEMS = ("tidewell", "prometheus3")
SERIES = 1000
LOOPS = 30
PUSHES_PER_S = 20
QUERY = "sum by (job) (rate(serving_load[5m]))"
PHASE_S = 20.0
SATURATION_SERIES = 50_000
HEADERS = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
           "X-Prometheus-Remote-Write-Version": "0.1.0"}


def _body(labels: list[Labels], ts: np.ndarray) -> bytes:
    idx = np.repeat(np.arange(len(labels), dtype=np.int32), len(ts))
    batch = SampleBatch(labels=labels, series_index=idx, timestamps=np.tile(ts, len(labels)),
                        values=np.ones(len(idx)))
    return bytes(snappy_compress(encode_write_request(batch)))


def _query_loops(url: str, now_ms: int, loops: int, stop: Event,
                 answered: Synchronized, failed: Synchronized) -> None:  # type: ignore[type-arg]
    """``loops`` threads asking the range query back to back (in a child process)."""
    params = {"query": QUERY, "start": (now_ms - 3_600_000) / 1000, "end": now_ms / 1000,
              "step": "15"}

    def loop() -> None:
        with httpx.Client(timeout=120) as c:
            while not stop.is_set():
                try:
                    ok = c.get(url, params=params).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with (answered if ok else failed).get_lock():
                    (answered if ok else failed).value += 1

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(loops)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def _push_phase(srv: Server, seconds: float, next_ts: list[int]) -> tuple[list[float], list[float]]:
    """Pushes at PUSHES_PER_S, each followed by a /ready probe; their latencies in ms."""
    labels = [Labels([("__name__", "serving_push"), ("i", str(i))]) for i in range(SERIES)]
    push_ms: list[float] = []
    ready_ms: list[float] = []
    t_end = time.monotonic() + seconds
    with httpx.Client(timeout=60) as c:
        while time.monotonic() < t_end:
            tick = time.monotonic()
            next_ts[0] += 1
            body = _body(labels, np.array([next_ts[0]], dtype=np.int64))
            t0 = time.perf_counter()
            r = c.post(srv.push_url, content=body, headers=HEADERS)
            push_ms.append((time.perf_counter() - t0) * 1000)
            if r.status_code not in (200, 204):
                raise NotAvailable(f"push answered {r.status_code}: {r.text[:200]}")
            t0 = time.perf_counter()
            c.get(srv.base_url + srv.ready_path)
            ready_ms.append((time.perf_counter() - t0) * 1000)
            time.sleep(max(0.0, 1 / PUSHES_PER_S - (time.monotonic() - tick)))
    return push_ms, ready_ms


def _beside_queries(srv: Server, now_ms: int, work: Callable[[], T]) -> tuple[T, float, int]:
    """``work()`` while LOOPS range-query loops run in another process: its result,
    the queries answered per second meanwhile and how many failed."""
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    answered, failed = ctx.Value("l", 0), ctx.Value("l", 0)
    proc = ctx.Process(target=_query_loops, daemon=True,
                       args=(srv.api_url("query_range"), now_ms, LOOPS, stop, answered, failed))
    proc.start()
    try:
        time.sleep(2.0)  # the loops are running
        a0 = answered.value
        t0 = time.perf_counter()
        out = work()
        qps = (answered.value - a0) / (time.perf_counter() - t0)
    finally:
        stop.set()
        proc.join(150)
        if proc.is_alive():
            proc.kill()
    return out, qps, int(failed.value)


def load_data(srv: Server, now_ms: int) -> None:
    """The data the range queries read: SERIES series over the last 2 h at 15 s."""
    labels = [Labels([("__name__", "serving_load"), ("job", f"j{i % 10}"),
                      ("i", str(i))]) for i in range(SERIES)]
    ts = now_ms - 7_200_000 + np.arange(480, dtype=np.int64) * 15_000
    r = httpx.post(srv.push_url, content=_body(labels, ts), headers=HEADERS, timeout=120)
    if r.status_code not in (200, 204):
        raise NotAvailable(f"loading answered {r.status_code}: {r.text[:200]}")


def _floor_phase(srv: Server, other: Server, seconds: float, now_ms: int,
                 next_ts: list[int]) -> Figure:
    """Pushes to ``srv`` and a fresh idle baseline, while the query loops ask ``other``."""
    idle, _ = _push_phase(srv, seconds, next_ts)
    (push, _), qps, failed = _beside_queries(
        other, now_ms, lambda: _push_phase(srv, seconds, next_ts))
    if failed:
        raise NotAvailable(f"{failed} range queries failed on the second server")
    return {"floor_p99": float(np.percentile(push, 99)),
            "floor_ratio": float(np.percentile(push, 99) / np.percentile(idle, 99)),
            "floor_qps": qps}


def _loaded_phase(srv: Server, seconds: float, now_ms: int,
                  next_ts: list[int]) -> tuple[list[float], list[float], float, int]:
    (push_ms, ready_ms), qps, failed = _beside_queries(
        srv, now_ms, lambda: _push_phase(srv, seconds, next_ts))
    return push_ms, ready_ms, qps, failed


def _saturation_with_queries(srv: Server, ctx: Context, seconds: float, now_ms: int) -> Figure:
    """Four streams pushing as fast as they are taken beside the LOOPS query loops."""
    wl = Workload(ctx.spec(SATURATION_SERIES, start_ms=ctx.past_start_ms(200),
                           metric_prefix="serving_satq"))
    res, qps, failed = _beside_queries(srv, now_ms, lambda: send_stream_sync(
        srv.push_url, wl.stream(200), shards=4, protocol=ctx.protocol, deadline_s=seconds))
    if res.failed_samples:
        raise NotAvailable(f"saturation push rejected: {res.first_error()}")
    if failed:
        raise NotAvailable(f"{failed} range queries failed beside push saturation")
    return {"satq_rate": res.accepted_samples / res.wall_s, "satq_qps": qps}


def _saturation(srv: Server, ctx: Context, seconds: float) -> Figure:
    """/ready probes every 50 ms while four streams push as fast as they are taken."""
    wl = Workload(ctx.spec(SATURATION_SERIES, start_ms=ctx.past_start_ms(200),
                           metric_prefix="serving_sat"))
    ready_ms: list[float] = []
    done = threading.Event()

    def probe() -> None:
        with httpx.Client(timeout=30) as c:
            while not done.is_set():
                t0 = time.perf_counter()
                try:
                    ok = c.get(srv.base_url + srv.ready_path).status_code == 200
                except httpx.HTTPError:
                    ok = False
                ready_ms.append((time.perf_counter() - t0) * 1000 if ok else 30_000.0)
                time.sleep(0.05)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()
    try:
        res = send_stream_sync(srv.push_url, wl.stream(200), shards=4, protocol=ctx.protocol,
                               deadline_s=seconds)
    finally:
        done.set()
        prober.join(60)
    if res.failed_samples:
        raise NotAvailable(f"saturation push rejected: {res.first_error()}")
    return {"sat_ready_p50": float(np.percentile(ready_ms, 50)),
            "sat_ready_p99": float(np.percentile(ready_ms, 99)),
            "sat_ready_max": max(ready_ms),
            "sat_rate": res.accepted_samples / res.wall_s}


def run(ctx: Context) -> list[Row]:
    seconds = min(PHASE_S, ctx.rep_seconds)

    def measure(system: str) -> list[Figure]:
        figures: list[Figure] = []
        with started(make_server(system, ctx, "serving"), ctx.ready_timeout_s) as srv:
            now = int(time.time() * 1000) // 15_000 * 15_000
            load_data(srv, now)
            time.sleep(3)
            next_ts = [int(time.time() * 1000)]
            for rep in range(ctx.reps):
                idle_push, idle_ready = _push_phase(srv, seconds, next_ts)
                push, ready, qps, failed = _loaded_phase(srv, seconds, now, next_ts)
                if failed:
                    raise NotAvailable(f"{failed} range queries failed")
                fig: Figure = {
                    "idle_p50": float(np.percentile(idle_push, 50)),
                    "idle_p99": float(np.percentile(idle_push, 99)),
                    "loaded_p50": float(np.percentile(push, 50)),
                    "loaded_p99": float(np.percentile(push, 99)),
                    "p99_ratio": float(np.percentile(push, 99) / np.percentile(idle_push, 99)),
                    "idle_ready_p99": float(np.percentile(idle_ready, 99)),
                    "loaded_ready_p99": float(np.percentile(ready, 99)),
                    "qps": qps,
                }
                log.info("serving %s rep %d: %s", system, rep + 1,
                         " ".join(f"{k}={v:.1f}" for k, v in fig.items()))
                figures.append(fig)
            with started(make_server(system, ctx, "serving-floor"),
                         ctx.ready_timeout_s) as other:
                load_data(other, now)
                time.sleep(3)
                floor = _floor_phase(srv, other, seconds, now, next_ts)
            log.info("serving %s floor: %s", system,
                     " ".join(f"{k}={v:.1f}" for k, v in floor.items()))
            figures[-1].update(floor)
            sat = _saturation(srv, ctx, seconds)
            sat.update(_saturation_with_queries(srv, ctx, seconds, now))
            log.info("serving %s saturation: %s", system,
                     " ".join(f"{k}={v:.1f}" for k, v in sat.items()))
            figures[-1].update(sat)
        return figures

    push_note = f"{PUSHES_PER_S} pushes/s of {SERIES} samples, {seconds:.0f}s per phase"
    return build_rows(
        "serving (single process)",
        measure_all(ctx, measure, only=SYSTEMS),
        [
            ("idle_p50", "push latency p50, idle", "ms", "lower"),
            ("idle_p99", "push latency p99, idle", "ms", "lower"),
            ("loaded_p50", f"push latency p50, {LOOPS} range-query loops", "ms", "lower"),
            ("loaded_p99", f"push latency p99, {LOOPS} range-query loops", "ms", "lower"),
            ("p99_ratio", "push p99 loaded / idle (target <= 2)", "x", "lower"),
            ("floor_p99", f"push latency p99, {LOOPS} loops on a second server", "ms",
             "lower"),
            ("floor_ratio", "push p99 loaded / idle, loops on a second server (the "
             "machine's floor)", "x", "lower"),
            ("idle_ready_p99", "/ready p99, idle", "ms", "lower"),
            ("loaded_ready_p99", f"/ready p99, {LOOPS} range-query loops", "ms", "lower"),
            ("qps", "range queries answered meanwhile", "queries/s", "higher"),
            ("sat_ready_p50", "/ready p50 under push saturation", "ms", "lower"),
            ("sat_ready_p99", "/ready p99 under push saturation", "ms", "lower"),
            ("sat_ready_max", "/ready max under push saturation", "ms", "lower"),
            ("sat_rate", "samples/s taken during saturation", "samples/s", "higher"),
            ("satq_rate", f"samples/s taken during saturation beside {LOOPS} query loops",
             "samples/s", "higher"),
            ("satq_qps", "range queries answered during saturation", "queries/s", "higher"),
        ],
        notes={"idle_p99": push_note,
               "loaded_p99": f"loops: {QUERY} over 1 h at 15 s step, 2 h x {SERIES} series "
               "stored, in another process",
               "floor_ratio": "the same loops against another server of the same system "
               "holding the same data: pushes share only the cores (one repetition)",
               "sat_ready_p99": f"4 streams of 2000-sample requests, {SATURATION_SERIES} "
               "series; probe every 50 ms; target 100 ms (one repetition)"},
    )
