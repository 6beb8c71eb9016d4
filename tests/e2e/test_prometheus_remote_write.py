"""A stock Prometheus remote-writes to Tidewell; promtool reads the same series back."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import TidewellProcess
from tests.support.ports import free_port
from tests.support.prometheus import PrometheusProcess, promtool_binary, self_scrape_config

SELECTORS = [
    "up",
    "prometheus_tsdb_head_series",
    'prometheus_build_info{job="prometheus"}',
    'prometheus_http_requests_total{handler=~"/-/ready|/metrics"}',
    'prometheus_http_requests_total{handler!~"/api/.*", code="200"}',
    'prometheus_sd_discovered_targets{config!="nope"}',
]


def promtool_instant(server: str, expr: str) -> list[dict[str, str]]:
    out = subprocess.run(
        [promtool_binary(), "query", "instant", "-o", "json", server, expr],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    return sorted((s["metric"] for s in json.loads(out)), key=lambda m: sorted(m.items()))


def wait_for_series(url: str, expr: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            r = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=5)
            if r.status_code == 200 and r.json()["data"]["result"]:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{expr} never arrived at {url}")


def test_prometheus_remote_write_then_promtool_query(
    tidewell: TidewellProcess, tmp_path: Path
) -> None:
    tidewell.args = ["-auth.multitenancy-enabled=false"]
    tidewell.start()
    prom_port = free_port()
    prom = PrometheusProcess(
        workdir=tmp_path / "prometheus",
        port=prom_port,
        config=self_scrape_config(prom_port, f"{tidewell.url}/api/v1/push"),
    )
    prom.start()
    try:
        for expr in ("up", "prometheus_tsdb_head_series"):
            wait_for_series(f"{tidewell.url}/prometheus", expr, timeout_s=60)
        time.sleep(3)  # a few more scrapes so both sides hold the same series
        for expr in SELECTORS:
            ours = promtool_instant(f"{tidewell.url}/prometheus", expr)
            theirs = promtool_instant(prom.url, expr)
            assert ours, f"Tidewell returned nothing for {expr}"
            assert ours == theirs, f"series differ for {expr}"
    finally:
        prom.stop()
    assert "level=error" not in tidewell.logs()
