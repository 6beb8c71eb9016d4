"""The real Prometheus as a test peer: 3.x by default, Debian's 2.42 for older-client tests.

Prometheus 3 (``prometheus3_binary``) is built by scripts/peers.sh from the Go
module proxy; it sends remote write 2.0 and scrapes native histograms, and its
promtool dumps native histograms. Debian's ``prometheus`` package (2.42) stays
for the tests that are about older clients (``prometheus2_binary``).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.support.peers import prometheus3_binary, promtool3_binary
from tests.support.ports import free_port
from tests.support.processes import wait_http_ok

RW1 = "prometheus.WriteRequest"
RW2 = "io.prometheus.write.v2.Request"


def prometheus_binary() -> str:
    """The reference Prometheus: 3.x."""
    return prometheus3_binary()


def promtool_binary() -> str:
    """promtool 3.x."""
    return promtool3_binary()


def _debian(name: str) -> str:
    path = f"/usr/bin/{name}"
    if not os.access(path, os.X_OK):
        raise AssertionError(
            f"{path} is missing: install the Debian package 'prometheus' (2.42; "
            "scripts/setup.sh does)"
        )
    return path


def prometheus2_binary() -> str:
    """Debian's Prometheus 2.42, for tests about older remote-write clients."""
    return _debian("prometheus")


def promtool2_binary() -> str:
    return _debian("promtool")


@dataclass
class PrometheusProcess:
    """A Prometheus server on loopback with a config written by the test (3.x unless told)."""

    workdir: Path
    config: dict[str, Any]
    extra_args: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    binary: str = field(default_factory=prometheus_binary)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config_path = self.workdir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(self.config))
        self._log = (self.workdir / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(
            [
                self.binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                # The scrape manager applies new targets at most this often: the first
                # scrape comes ~1 s after the start instead of ~5 s (the default).
                "--scrape.discovery-reload-interval=1s",
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        wait_http_ok(f"{self.url}/-/ready", self.proc, timeout_s, "prometheus", self.logs)

    def logs(self) -> str:
        return (self.workdir / "prometheus.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def self_scrape_config(
    prometheus_port: int, remote_write_url: str, *, headers: dict[str, str] | None = None,
    protobuf_message: str | None = None, native_histograms: bool = False,
) -> dict[str, Any]:
    """Prometheus scraping itself every second and remote-writing everything quickly.

    ``protobuf_message``: ``RW2`` makes Prometheus 3 send remote write 2.0 (None: its
    default, 1.0; 2.42 knows no such setting). ``native_histograms``: scrape them (3.x:
    its own ``prometheus_http_request_duration_seconds`` is one) and send them.
    """
    remote: dict[str, Any] = {
        "url": remote_write_url,
        "queue_config": {"batch_send_deadline": "1s", "min_backoff": "100ms",
                         "max_backoff": "1s"},
    }
    if headers:
        remote["headers"] = headers
    if protobuf_message:
        remote["protobuf_message"] = protobuf_message
    if protobuf_message == RW2:  # 2.0 sends metadata from the WAL, not from this loop
        remote["metadata_config"] = {"send": False}
    global_: dict[str, Any] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    if native_histograms:
        remote["send_native_histograms"] = True
        global_["scrape_native_histograms"] = True
    return {
        "global": global_,
        "scrape_configs": [
            {"job_name": "prometheus",
             "static_configs": [{"targets": [f"127.0.0.1:{prometheus_port}"]}]}
        ],
        "remote_write": [remote],
    }
