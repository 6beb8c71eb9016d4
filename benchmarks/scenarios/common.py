"""What every scenario shares: the run context, server factory, pushing, row building.

A scenario measures each system with a function ``system -> list[dict]`` (one
dict of figures per repetition). When a system cannot be measured, that
function raises ``NotAvailable`` with the reason, which ends up in the table.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.launch import (
    Prometheus3Server,
    PrometheusServer,
    Server,
    ServerError,
    TidewellServer,
    VictoriaMetricsServer,
)
from benchmarks.loadgen import SendResult, send_batch_sync
from benchmarks.stats import SYSTEMS, Cell, Measured, Row, Unavailable
from benchmarks.workload import Batch, WorkloadSpec

__all__ = [
    "SYSTEMS",
    "Context",
    "Figure",
    "NotAvailable",
    "build_rows",
    "make_server",
    "measure_all",
    "metric_sum",
    "push",
    "serve",
    "started",
    "verify_series",
    "wait_in_memory",
]

log = logging.getLogger("benchmarks")


class NotAvailable(Exception):
    """This system cannot produce this scenario's figures; the message says why."""


@dataclass
class Context:
    workdir: Path
    scale: float = 1.0
    reps: int = 3
    protocol: int = 1
    shards: int = 4
    samples_per_request: int = 2000
    scrape_interval_s: float = 15.0
    churn: float = 0.0
    seed: int = 42
    server_cores: str = "0"
    systems: Sequence[str] = SYSTEMS
    tidewell_args: list[str] = field(default_factory=list)
    ready_timeout_s: float = 90.0
    max_push_s: float = 300.0  # a push phase taking longer makes its figure n/a
    rep_seconds: float = 30.0  # cap of one throughput repetition

    def n(self, base: int, minimum: int = 100) -> int:
        """``base`` scaled, at least ``minimum``."""
        return max(minimum, round(base * self.scale))

    def spec(self, series: int, **kw: object) -> WorkloadSpec:
        args: dict[str, object] = dict(
            series=series,
            samples_per_request=self.samples_per_request,
            scrape_interval_s=self.scrape_interval_s,
            churn=self.churn,
            shards=self.shards,
            protocol=self.protocol,
            seed=self.seed,
        )
        args.update(kw)
        return WorkloadSpec(**args)  # type: ignore[arg-type]

    def past_start_ms(self, rounds: int) -> int:
        """A start time such that ``rounds`` rounds end about one interval before now."""
        iv = int(self.scrape_interval_s * 1000)
        return (int(time.time() * 1000) // iv - rounds - 1) * iv


_counter = iter(range(1_000_000))


def make_server(system: str, ctx: Context, tag: str, *, extra_args: Sequence[str] = (),
                data_dir: Path | None = None) -> Server:
    data = data_dir or ctx.workdir / f"{tag}-{system}-{next(_counter)}"
    peers = {"prometheus": PrometheusServer, "prometheus3": Prometheus3Server,
             "victoriametrics": VictoriaMetricsServer}
    if system in peers:
        return peers[system](data, cores=ctx.server_cores)
    return TidewellServer(
        data, cores=ctx.server_cores, extra_args=[*ctx.tidewell_args, *extra_args]
    )


class started:  # a context manager that reads like a verb
    """Start a server and wait until ready; startup failure becomes ``NotAvailable``."""

    def __init__(self, server: Server, timeout_s: float = 90.0) -> None:
        self.server = server
        self.timeout_s = timeout_s
        self.ready_s = 0.0

    def __enter__(self) -> Server:
        try:
            self.server.start()
            self.ready_s = self.server.wait_ready(self.timeout_s)
        except ServerError as exc:
            self.server.stop()
            raise NotAvailable(str(exc)) from exc
        return self.server

    def __exit__(self, *exc: object) -> None:
        self.server.stop()


def serve(system: str, ctx: Context, tag: str) -> started:
    """``with serve(system, ctx, tag) as srv``: a fresh server of ``system`` for scenario
    ``tag``, ready within the context's timeout."""
    return started(make_server(system, ctx, tag), ctx.ready_timeout_s)


def push(server: Server, batch: Batch, ctx: Context, *, what: str = "push",
         deadline_s: float | None = None) -> SendResult:
    """Send ``batch``; any rejected request makes the figure unavailable, with the reason.

    With ``deadline_s`` the push stops early and the result covers what was sent
    (used for throughput); without, it must deliver everything within
    ``ctx.max_push_s`` or the figure is unavailable (the system is too slow for
    this scale).
    """
    limit = deadline_s if deadline_s is not None else ctx.max_push_s
    res = send_batch_sync(server.push_url, batch, protocol=ctx.protocol, deadline_s=limit)
    if res.failed_samples:
        err = res.first_error()
        if server.proc is not None and server.proc.poll() is not None:
            err += f" (server exited: {server.log_tail(4)})"
        if err.startswith("HTTP 404"):
            raise NotAvailable(f"{what}: {server.push_path} not implemented (HTTP 404)")
        raise NotAvailable(
            f"{what}: {res.failed_samples}/{res.failed_samples + res.accepted_samples} "
            f"samples rejected, first error {err}"
        )
    if deadline_s is None and res.accepted_samples < batch.samples:
        raise NotAvailable(
            f"{what}: too slow, {res.accepted_samples}/{batch.samples} samples sent in "
            f"{ctx.max_push_s:.0f}s (raise --max-push-seconds or lower --scale)"
        )
    return res


def verify_series(server: Server, expected: int, *, at_s: float | None = None,
                  wait_s: float = 30.0) -> bool:
    """Check through the query API that ``expected`` bench series are stored.

    Guards against a receiver that answers 2xx but drops what it does not
    understand (Prometheus 2.42 given a remote-write 2.0 body). Returns False
    when the system has no query API yet (nothing to check with); raises
    ``NotAvailable`` when fewer series than expected are visible.
    """
    expr = 'count({__name__=~"bench_.+"})'
    params = {"query": expr}
    if at_s is not None:
        params["time"] = f"{at_s:.3f}"
    seen = -1
    deadline = time.monotonic() + wait_s
    with httpx.Client(timeout=30.0) as client:
        while True:
            try:
                resp = client.get(server.api_url("query"), params=params)
            except httpx.HTTPError:
                return False
            if resp.status_code == 404:
                return False
            if resp.status_code == 200:
                res = resp.json()["data"]["result"]
                seen = int(float(res[0]["value"][1])) if res else 0
                if seen >= expected:
                    return True
            if time.monotonic() > deadline:
                raise NotAvailable(
                    f"writes answered 2xx but only {seen}/{expected} series are queryable"
                )
            time.sleep(0.5)


_MEMORY_SERIES = re.compile(r"^cortex_ingester_memory_series(?:\{[^}]*\})? (\S+)$", re.M)


def metric_sum(server: Server, pattern: re.Pattern[str]) -> float | None:
    """Sum of a metric's samples on the server's ``/metrics`` (None: not exported)."""
    try:
        text = httpx.get(server.base_url + "/metrics", timeout=5.0).text
    except httpx.HTTPError:
        return None
    found = pattern.findall(text)
    return sum(float(v) for v in found) if found else None


def wait_in_memory(server: Server, expected: int, wait_s: float = 60.0) -> None:
    """Wait until an ingester reports ``expected`` in-memory series, when it exports that.

    Tidewell's ingesters read the log asynchronously: memory read right after
    the push would miss the series still being consumed.
    """
    deadline = time.monotonic() + wait_s
    got = metric_sum(server, _MEMORY_SERIES)
    while got is not None and got < expected and time.monotonic() < deadline:
        time.sleep(0.5)
        got = metric_sum(server, _MEMORY_SERIES)
    if got is not None and got < expected:
        raise NotAvailable(f"only {got:.0f}/{expected} series in memory after {wait_s:.0f}s")


Figure = dict[str, float]


def measure_all(
    ctx: Context, fn: Callable[[str], list[Figure]], *, only: Sequence[str] = SYSTEMS
) -> dict[str, list[Figure] | NotAvailable]:
    """Run ``fn(system)`` for each selected system, turning ``NotAvailable`` into a value.

    ``only``: the systems this scenario can measure at all; the others get no column.
    """
    out: dict[str, list[Figure] | NotAvailable] = {}
    for system in SYSTEMS:
        if system not in only:
            continue
        if system not in ctx.systems:
            out[system] = NotAvailable("not selected")
            continue
        t0 = time.perf_counter()
        try:
            out[system] = fn(system)
        except NotAvailable as exc:
            out[system] = exc
        except Exception as exc:  # a harness bug must not hide the other system's numbers
            log.exception("%s failed", system)
            out[system] = NotAvailable(f"harness error {type(exc).__name__}: {exc}")
        log.info("  %s done in %.1fs", system, time.perf_counter() - t0)
    return out


def _cell(result: list[Figure] | NotAvailable, key: str) -> Cell:
    if isinstance(result, NotAvailable):
        return Unavailable(str(result) or "not available")
    vals = [r[key] for r in result if key in r]
    if not vals:
        return Unavailable("not measured")
    return Measured(vals)


def build_rows(
    scenario: str,
    results: dict[str, list[Figure] | NotAvailable],
    metrics: Sequence[tuple[str, str, str, str]],
    notes: dict[str, str] | None = None,
) -> list[Row]:
    """One row per (key, label, unit, better) from the per-repetition figures."""
    rows = []
    for key, label, unit, better in metrics:
        rows.append(
            Row(
                scenario=scenario,
                metric=label,
                unit=unit,
                cells={system: _cell(res, key) for system, res in results.items()},
                better=better,
                note=(notes or {}).get(key, ""),
            )
        )
    return rows
