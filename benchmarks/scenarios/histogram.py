"""Scenario histogram: native-histogram ingest per core and bytes per histogram sample in blocks.

Four hours of 15 s scrapes of counter native histograms (``HistogramWorkload``:
integer, schema 3, 20-40 buckets) go to each system as remote write 1.0, in
three parts as in the storage scenario. The first two rounds create the
series (warm-up); the bulk up to hour 3 is timed until stored (its last
histogram of every stream queryable) and its server CPU time counted; the rest
makes the head span enough for the first 2h block, whose size is divided by
the histogram samples its ``meta.json`` declares.

VictoriaMetrics does not store native histograms: its remote-write receiver
converts each into float series of its own histogram format (``<name>_bucket``
with a ``vmrange`` label per populated bucket, ``<name>_sum``, ``<name>_count``),
which PromQL's native-histogram functions cannot read. It is measured on what it
does: its probes are the ``_count`` series, its "block" figure is its whole
data directory after a forced flush over the histograms sent.
"""

from __future__ import annotations

import logging
import time

from benchmarks.hist_workload import HistogramWorkload
from benchmarks.launch import Server, VictoriaMetricsServer, dir_size
from benchmarks.scenarios.catchup import Probe, wait_caught_up
from benchmarks.scenarios.common import (
    Context,
    Figure,
    NotAvailable,
    build_rows,
    measure_all,
    push,
    serve,
)
from benchmarks.scenarios.storage import BLOCK_WAIT_S, find_blocks
from benchmarks.stats import Row
from benchmarks.workload import Batch

log = logging.getLogger("benchmarks")

HOURS = 4.0
WARMUP_ROUNDS = 2


def as_count_series(probes: list[Probe]) -> list[Probe]:
    """VictoriaMetrics's ``_count`` series of each probed histogram."""
    return [((("__name__", labels[0][1] + "_count"), *labels[1:]), ts) for labels, ts in probes]


def _timed(srv: Server, batch: Batch, probes, first, ctx: Context) -> Figure:
    cpu0, t0 = srv.cpu_seconds(), time.perf_counter()
    res = push(srv, batch, ctx, what="hours 0 to 3")
    accepted = time.perf_counter() - t0
    lag = wait_caught_up(srv, probes, ctx.max_push_s, first)
    if lag is None:
        raise NotAvailable("no query API to tell when the histograms are stored")
    cpu = srv.cpu_seconds() - cpu0
    return {
        "rate": res.accepted_samples / accepted,
        "stored": res.accepted_samples / (res.wall_s + lag),
        "per_cpu": res.accepted_samples / cpu if cpu > 0 else float("nan"),
    }


def _bytes_per_sample(srv: Server, sent: int) -> float | None:
    """Block bytes over the samples the blocks declare (None: no block in time).

    VictoriaMetrics: its flushed data directory over the histograms sent.
    """
    if isinstance(srv, VictoriaMetricsServer):
        srv.force_flush()
        return dir_size(srv.data_dir) / sent
    deadline = time.monotonic() + BLOCK_WAIT_S
    blocks = find_blocks(srv.data_dir)
    while not blocks and time.monotonic() < deadline:
        time.sleep(2.0)
        blocks = find_blocks(srv.data_dir)
    if not blocks:
        return None
    return sum(b[0] for b in blocks.values()) / sum(b[1] for b in blocks.values())


def run(ctx: Context) -> list[Row]:
    series = ctx.n(2_000)
    rounds = int(HOURS * 3600 / ctx.scrape_interval_s) + 2
    before_cut = int(3 * 3600 / ctx.scrape_interval_s)
    wl = HistogramWorkload(ctx.spec(series, start_ms=ctx.past_start_ms(rounds), protocol=1))
    log.info("histogram: encoding %d histogram series x %d rounds", series, rounds)
    warmup = wl.encode(WARMUP_ROUNDS)
    warm_probes = (wl.probes(), wl.first_probe)
    bulk = wl.encode(before_cut - WARMUP_ROUNDS)
    bulk_probes = (wl.probes(), wl.first_probe)
    rest = wl.encode(rounds - before_cut)

    def measure(system: str) -> list[Figure]:
        figures = []
        for _ in range(ctx.reps):
            with serve(system, ctx, "histogram") as srv:
                vm = isinstance(srv, VictoriaMetricsServer)
                adapt = as_count_series if vm else list
                push(srv, warmup, ctx, what="warm-up")
                wait_caught_up(srv, adapt(warm_probes[0]), ctx.max_push_s,
                               adapt([warm_probes[1]])[0])
                fig = _timed(srv, bulk, adapt(bulk_probes[0]), adapt([bulk_probes[1]])[0], ctx)
                fig["rss_mb"] = srv.rss_bytes() / 2**20
                push(srv, rest, ctx, what=f"hours 3 to {HOURS:g}")
                block = _bytes_per_sample(srv, warmup.samples + bulk.samples + rest.samples)
                if block is not None:
                    fig["block"] = block
            figures.append(fig)
        return figures

    results = measure_all(ctx, measure)
    bulk_n = bulk.samples
    return build_rows(
        f"histogram ({series} native-histogram series, {HOURS:g}h @ {ctx.scrape_interval_s:g}s)",
        results,
        [
            ("rate", "histogram samples/s accepted (server on 1 core)", "samples/s", "higher"),
            ("stored", "histogram samples/s stored (until queryable)", "samples/s", "higher"),
            ("per_cpu", "histogram samples per server CPU-second (until stored)",
             "samples/CPU-s", "higher"),
            ("block", "block bytes per histogram sample (index + chunks + meta)", "B/sample",
             "lower"),
            ("rss_mb", "resident memory (VmRSS) after the first 3h", "MiB", "lower"),
        ],
        notes={
            "rate": f"RW1.0 integer native histograms, schema 3, 20-40 buckets, counters; "
            f"{bulk_n} histograms timed after {WARMUP_ROUNDS} warm-up rounds, "
            f"{ctx.shards} streams of {ctx.samples_per_request}",
            "block": "the first 2h block(s) cut after 4h of data; VictoriaMetrics: whole data "
            "directory after /internal/force_flush over all histograms sent",
            "per_cpu": "VictoriaMetrics does not store native histograms: it converts each "
            "into float series (<name>_bucket{vmrange=...} per populated bucket, _sum, "
            "_count) that native-histogram PromQL cannot read; its figures are for that",
        },
    )
