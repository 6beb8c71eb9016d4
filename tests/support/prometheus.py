"""The real Prometheus binary (Debian package ``prometheus``) as a test peer."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.ports import free_port


def prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if path is None:
        raise AssertionError(
            "the prometheus binary is missing: install the Debian package 'prometheus' "
            "(scripts/setup.sh does)"
        )
    return path


def promtool_binary() -> str:
    path = shutil.which("promtool")
    if path is None:
        raise AssertionError("promtool is missing: install the Debian package 'prometheus'")
    return path


@dataclass
class PrometheusProcess:
    """A Prometheus server on loopback with a config written by the test."""

    workdir: Path
    config: dict[str, Any]
    extra_args: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
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
                prometheus_binary(),
                f"--config.file={config_path}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited:\n{self.logs()}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"prometheus not ready after {timeout_s}s:\n{self.logs()}")

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
    prometheus_port: int, remote_write_url: str, *, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Prometheus scraping itself every second and remote-writing everything quickly."""
    remote: dict[str, Any] = {
        "url": remote_write_url,
        "queue_config": {"batch_send_deadline": "1s", "min_backoff": "100ms",
                         "max_backoff": "1s"},
    }
    if headers:
        remote["headers"] = headers
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [
            {"job_name": "prometheus",
             "static_configs": [{"targets": [f"127.0.0.1:{prometheus_port}"]}]}
        ],
        "remote_write": [remote],
    }
