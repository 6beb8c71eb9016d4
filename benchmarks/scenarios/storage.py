"""Scenario 3, storage: bytes per sample in the log and in blocks.

Four hours of scrapes are written in two steps. After the first 90 minutes
(less than a head block's span, so nothing is compacted or truncated yet) the
log is measured: Prometheus's WAL directory, Tidewell's ingest log
(``<storage.path>/log``). After the rest, the harness waits for the first 2h
block (a directory holding ``meta.json``) and divides its size by the
``stats.numSamples`` it declares.

VictoriaMetrics has neither a log nor 2h blocks: it buffers rows in memory and
writes compressed, merged parts. Its "block" figure is its whole data
directory (parts and index) after a forced flush, over every sample sent.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from benchmarks.launch import PrometheusServer, Server, VictoriaMetricsServer, dir_size
from benchmarks.scenarios.common import (
    Context,
    Figure,
    NotAvailable,
    build_rows,
    measure_all,
    push,
    serve,
)
from benchmarks.stats import Row, Unavailable
from benchmarks.workload import Batch, Workload

log = logging.getLogger("benchmarks")

HOURS = 4.0
LOG_PHASE_HOURS = 1.5
BLOCK_WAIT_S = 120.0


def find_blocks(root: Path) -> dict[str, tuple[int, int]]:
    """Block ULID -> (bytes, numSamples) for every directory under root with a meta.json.

    The same ULID found twice (e.g. a local copy and an uploaded one) counts once.
    """
    blocks: dict[str, tuple[int, int]] = {}
    for meta in root.rglob("meta.json"):
        try:
            stats = json.loads(meta.read_text()).get("stats", {})
        except (OSError, ValueError):
            continue
        n = int(stats.get("numSamples", 0))
        if n > 0:
            blocks.setdefault(meta.parent.name, (dir_size(meta.parent), n))
    return blocks


def _layout(root: Path) -> str:
    """Directories two levels deep, to show where a missing block was looked for."""
    dirs = sorted(
        str(p.relative_to(root)) for p in root.glob("*/*") if p.is_dir()
    ) or sorted(p.name for p in root.iterdir() if p.is_dir())
    return ", ".join(dirs[:8]) or "nothing"


def log_dir(server: Server) -> Path:
    return server.data_dir / ("wal" if isinstance(server, PrometheusServer) else "log")


def run(ctx: Context) -> list[Row]:
    series = ctx.n(10_000)
    rounds = int(HOURS * 3600 / ctx.scrape_interval_s) + 2
    first = int(LOG_PHASE_HOURS * 3600 / ctx.scrape_interval_s)
    wl = Workload(ctx.spec(series, start_ms=ctx.past_start_ms(rounds)))
    log.info("storage: encoding %d series x %d rounds", series, rounds)
    # Up to 3h nothing is compactable; the last part then triggers the first
    # 2h block. Sent separately, so no stream can lag behind a compaction that
    # moved the head's lower bound past its samples (Prometheus: out of bounds).
    part1 = wl.encode(first)
    before_cut = int(3 * 3600 / ctx.scrape_interval_s) - first
    part2 = wl.encode(before_cut)
    part3 = wl.encode(rounds - first - before_cut)

    found: dict[str, str] = {}

    def measure(system: str) -> list[Figure]:
        fig: Figure = {}
        with serve(system, ctx, "storage") as srv:
            push(srv, part1, ctx, what=f"first {LOG_PHASE_HOURS}h")
            time.sleep(2.0)
            if isinstance(srv, VictoriaMetricsServer):
                return [_victoria_metrics(srv, part1.samples, [part2, part3], ctx)]
            size = dir_size(log_dir(srv))
            if size == 0:
                raise NotAvailable(f"no log found at {log_dir(srv)}")
            fig["log"] = size / part1.samples
            fig["disk"] = dir_size(srv.data_dir) / part1.samples
            push(srv, part2, ctx, what="hours 1.5 to 3")
            push(srv, part3, ctx, what=f"hours 3 to {HOURS:g}")
            deadline = time.monotonic() + BLOCK_WAIT_S
            blocks = find_blocks(srv.data_dir)
            while not blocks and time.monotonic() < deadline:
                time.sleep(2.0)
                blocks = find_blocks(srv.data_dir)
            if blocks:
                size = sum(b[0] for b in blocks.values())
                fig["block"] = size / sum(b[1] for b in blocks.values())
                fig["block_samples"] = sum(b[1] for b in blocks.values())
        if "block" not in fig:
            # keep the log figure, say why the block one is missing
            fig["_no_block"] = 1.0
            found[system] = _layout(srv.data_dir)
        return [fig]

    results = measure_all(ctx, measure)
    notes = {"log": f"after the first {LOG_PHASE_HOURS}h, before any block or truncation",
             "disk": f"after the first {LOG_PHASE_HOURS}h"}
    if "victoriametrics" in results:
        notes["log"] += "; VictoriaMetrics keeps no log (unflushed rows die with the process)"
        notes["block"] = ("VictoriaMetrics: whole data directory (parts + indexdb) after "
                          "/internal/force_flush, over all samples sent")
    rows = build_rows(
        f"storage ({series} series, {HOURS:g}h @ {ctx.scrape_interval_s:g}s)",
        results,
        [
            ("log", "log bytes per sample (Prometheus: WAL)", "B/sample", "lower"),
            ("disk", "all local files per sample (log, WAL, head chunks...)", "B/sample",
             "lower"),
            ("block", "block bytes per sample (index + chunks + meta)", "B/sample", "lower"),
        ],
        notes=notes,
    )
    for system, res in results.items():
        if not isinstance(res, NotAvailable) and "_no_block" in res[0]:
            rows[2].cells[system] = (Unavailable(
                f"no block with samples under the data dir within {BLOCK_WAIT_S:.0f}s "
                f"(it holds: {found.get(system, '?')})"))
    return rows


def _victoria_metrics(srv: VictoriaMetricsServer, first: int, rest: list[Batch],
                      ctx: Context) -> Figure:
    """Its flushed data directory per sample, after everything was sent.

    No figure after the first part: a flush there left the directory nearly
    empty (parts still in memory), so it would read as ~0 bytes per sample.
    """
    total = first
    for part in rest:
        push(srv, part, ctx)
        total += part.samples
    srv.force_flush()
    return {"block": dir_size(srv.data_dir) / total}
