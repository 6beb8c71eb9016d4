"""Scenario "remotewrite" (issue 14): the real Prometheus 3 remote-writing into Tidewell.

Prometheus 3 (``--agent``, stock ``queue_config``) scrapes ``TARGETS`` synthetic
targets served by this harness (text exposition, ``SERIES_PER_TARGET`` counters
each, every scrape a new value) every 15 s and remote-writes everything to one
receiver: Tidewell on embedded defaults (``EmbeddedDefaultsTidewell``), and, for
comparison on the same load, a Prometheus 3 with its remote-write receiver.
After the run, the agent's own counters say whether a batch ever had to be
retried or failed (``prometheus_remote_storage_samples_retried_total``,
``…_failed_total``); the target is zero. ``…_enqueue_retries_total`` counts
the times its in-memory shard queue was full (the agent waits, nothing is lost):
it starts with one shard and grows them from the measured send rate, so the
first scrapes' bursts fill it whatever the receiver; counted separately after
``WARMUP_S``. The receiver must then hold every series.

Duration: ``max(120 s, --rep-seconds)``; ``--rep-seconds 600`` is the 10-minute run
that issue 14 asks for. One repetition.
"""

from __future__ import annotations

import logging
import re
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from benchmarks.launch import Prometheus3Server, Server, dir_size
from benchmarks.scenarios.common import (
    Context,
    Figure,
    NotAvailable,
    build_rows,
    make_server,
    measure_all,
    started,
)
from benchmarks.scenarios.million import EmbeddedDefaultsTidewell
from benchmarks.stats import Row
from tidewell.util.ports import free_port

__all__ = ["run"]

log = logging.getLogger("benchmarks")

TARGETS = 4
SERIES_PER_TARGET = 25_000
MIN_SECONDS = 120.0
WARMUP_S = 60.0


class _Target:
    """One scrape target: ``rw_soak_<m>{i=...}`` counters, all increasing every scrape."""

    def __init__(self, index: int, series: int) -> None:
        self.port = free_port()
        self.lines = [f'rw_soak_{i % 50}{{target="t{index}",i="{i}"}} '.encode()
                      for i in range(series)]
        self.scrapes = 0
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                target.scrapes += 1
                value = str(target.scrapes).encode() + b"\n"
                body = value.join(target.lines) + value
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


_METRIC = re.compile(r"^(prometheus_remote_storage_[a-z_]+)(?:\{[^}]*\})? (\S+)$", re.M)


def _remote_storage_metrics(url: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, value in _METRIC.findall(httpx.get(url + "/metrics", timeout=10).text):
        out[name] = out.get(name, 0.0) + float(value)
    return out


def _series_in(srv: Server) -> int:
    r = httpx.get(srv.api_url("query"), params={"query": 'count({__name__=~"rw_soak_.+"})'},
                  timeout=60)
    res = r.json()["data"]["result"]
    return int(float(res[0]["value"][1])) if res else 0


def run(ctx: Context) -> list[Row]:
    seconds = max(MIN_SECONDS, ctx.rep_seconds)
    series = TARGETS * SERIES_PER_TARGET

    def measure(system: str) -> list[Figure]:
        binary = Prometheus3Server.binary
        srv = (EmbeddedDefaultsTidewell(ctx.workdir / "remotewrite-tidewell",
                                        cores=ctx.server_cores)
               if system == "tidewell" else make_server(system, ctx, "remotewrite"))
        targets = [_Target(i, SERIES_PER_TARGET) for i in range(TARGETS)]
        prom_dir = ctx.workdir / f"remotewrite-agent-{system}"
        prom_dir.mkdir(parents=True, exist_ok=True)
        prom_port = free_port()
        cfg = prom_dir / "prometheus.yml"
        cfg.write_text(
            "global:\n  scrape_interval: 15s\n  scrape_timeout: 10s\n"
            "scrape_configs:\n  - job_name: soak\n    static_configs:\n      - targets: ["
            + ", ".join(f'"127.0.0.1:{t.port}"' for t in targets) + "]\n"
            f"remote_write:\n  - url: {srv.push_url}\n")
        prom: subprocess.Popen[bytes] | None = None
        try:
            with started(srv, ctx.ready_timeout_s):
                with open(prom_dir / "prometheus.log", "ab") as logf:
                    prom = subprocess.Popen(
                        ["taskset", "-c", ctx.server_cores, binary, "--agent",
                         f"--config.file={cfg}", f"--storage.agent.path={prom_dir / 'wal'}",
                         f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
                        stdout=logf, stderr=subprocess.STDOUT)
                prom_url = f"http://127.0.0.1:{prom_port}"
                log.info("remotewrite: Prometheus 3 agent scraping %d series for %.0fs",
                         series, seconds)
                cpu0, t0 = srv.cpu_seconds(), time.monotonic()
                time.sleep(WARMUP_S)
                warm = _remote_storage_metrics(prom_url)
                time.sleep(seconds - WARMUP_S)
                if prom.poll() is not None:
                    raise NotAvailable(f"prometheus exited: {prom.returncode}")
                m = _remote_storage_metrics(prom_url)
                log.info("remotewrite: %s", " ".join(f"{k}={v:g}" for k, v in sorted(m.items())))
                cpu = (srv.cpu_seconds() - cpu0) / (time.monotonic() - t0)
                time.sleep(20)  # the last batches land
                stored = _series_in(srv)
                rss = srv.rss_bytes()
                disk = dir_size(srv.data_dir)
        finally:
            if prom is not None and prom.poll() is None:
                prom.terminate()  # it flushes its queue for up to a minute
                try:
                    prom.wait(90)
                except subprocess.TimeoutExpired:
                    prom.kill()
                    prom.wait(10)
            for t in targets:
                t.close()
        if stored < series:
            raise NotAvailable(f"only {stored}/{series} series stored")
        sent = m.get("prometheus_remote_storage_samples_total", 0.0)
        return [{
            "sent": sent,
            "rate": sent / seconds,
            "retried": m.get("prometheus_remote_storage_samples_retried_total", 0.0),
            "failed": m.get("prometheus_remote_storage_samples_failed_total", 0.0),
            "enqueue_retries": m.get("prometheus_remote_storage_enqueue_retries_total", 0.0),
            "enqueue_retries_late": m.get("prometheus_remote_storage_enqueue_retries_total", 0.0)
            - warm.get("prometheus_remote_storage_enqueue_retries_total", 0.0),
            "shards": m.get("prometheus_remote_storage_shards", 0.0),
            "batch_ms": 1000 * m.get("prometheus_remote_storage_sent_batch_duration_seconds_sum",
                                     0.0)
            / max(1.0, m.get("prometheus_remote_storage_sent_batch_duration_seconds_count", 0.0)),
            "lag": m.get("prometheus_remote_storage_highest_timestamp_in_seconds", 0.0)
            - m.get("prometheus_remote_storage_queue_highest_sent_timestamp_seconds", 0.0),
            "cpu": cpu * 100,
            "rss_mb": rss / 2**20,
            "disk_mb": disk / 2**20,
        }]

    return build_rows(
        f"remotewrite (Prometheus 3 agent, {series} series, {seconds:.0f}s)",
        measure_all(ctx, measure, only=("tidewell", "prometheus3")),
        [
            ("sent", "samples sent by Prometheus", "samples", "higher"),
            ("rate", "samples/s sent", "samples/s", "higher"),
            ("retried", "samples retried (prometheus_remote_storage_samples_retried_total)",
             "samples", "lower"),
            ("failed", "samples failed (…_samples_failed_total)", "samples", "lower"),
            ("enqueue_retries", "agent shard queue full (…_enqueue_retries_total)", "times",
             "lower"),
            ("enqueue_retries_late", f"agent shard queue full after the first {WARMUP_S:.0f}s",
             "times", "lower"),
            ("shards", "agent's remote-write shards at the end", "shards", "lower"),
            ("batch_ms", "mean time to send one batch (…_sent_batch_duration_seconds)", "ms",
             "lower"),
            ("lag", "highest scraped - highest sent timestamp at the end", "s", "lower"),
            ("cpu", "receiver CPU use", "% of a core", "lower"),
            ("rss_mb", "receiver resident memory at the end", "MiB", "lower"),
            ("disk_mb", "receiver data directory at the end", "MiB", "lower"),
        ],
        notes={"retried": "target: 0; Tidewell on embedded defaults, the agent's stock "
               "queue_config",
               "enqueue_retries": "the agent waits, nothing is lost; mostly its first scrapes, "
               "before it adds shards",
               "sent": f"{TARGETS} targets x {SERIES_PER_TARGET} counters, 15 s scrapes"},
    )
