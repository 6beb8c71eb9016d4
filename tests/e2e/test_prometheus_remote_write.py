"""A stock Prometheus 3 remote-writes to Tidewell (RW 1.0 and 2.0); promtool reads it back."""

from __future__ import annotations

import json
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import TidewellProcess
from tests.support.ports import free_port
from tests.support.prometheus import (
    RW1,
    RW2,
    PrometheusProcess,
    promtool_binary,
    self_scrape_config,
)

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


def remote_write_complaints(prom_logs: str) -> list[str]:
    """Prometheus's warnings and errors about remote writing (a refused batch, bad headers)."""
    return [line for line in prom_logs.splitlines()
            if "component=remote" in line and ("level=WARN" in line or "level=ERROR" in line)]


def remote_storage_counters(prom_url: str) -> dict[str, float]:
    """Prometheus's own remote-write counters, summed over queues (from its /metrics)."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(f"{prom_url}/metrics").text):
        for s in family.samples:
            if s.name.startswith("prometheus_remote_storage_") and s.name.endswith("_total"):
                out[s.name] = out.get(s.name, 0.0) + s.value
    return out


@pytest.mark.parametrize("protobuf_message", [RW1, RW2])
def test_prometheus_remote_write_then_promtool_query(
    tidewell: TidewellProcess, tmp_path: Path, protobuf_message: str
) -> None:
    tidewell.args = ["-auth.multitenancy-enabled=false"]
    tidewell.start()
    prom_port = free_port()
    prom = PrometheusProcess(
        workdir=tmp_path / "prometheus",
        port=prom_port,
        config=self_scrape_config(prom_port, f"{tidewell.url}/api/v1/push",
                                  protobuf_message=protobuf_message),
        # RW 2.0 carries metadata only from the WAL's metadata records
        extra_args=["--enable-feature=metadata-wal-records"] if protobuf_message == RW2 else [],
    )
    prom.start()
    try:
        for expr in ("up", "prometheus_tsdb_head_series"):
            wait_for_series(f"{tidewell.url}/prometheus", expr, timeout_s=60)
        for expr in SELECTORS:  # equal once remote write caught up with the last scrapes
            deadline = time.monotonic() + 30
            while ((ours := promtool_instant(f"{tidewell.url}/prometheus", expr))
                   != (theirs := promtool_instant(prom.url, expr))
                   and time.monotonic() < deadline):
                time.sleep(0.5)
            assert ours, f"Tidewell returned nothing for {expr}"
            assert ours == theirs, f"series differ for {expr}"
        sent = remote_storage_counters(prom.url)
        assert sent["prometheus_remote_storage_samples_total"] > 0
        assert sent.get("prometheus_remote_storage_samples_failed_total", 0) == 0
    finally:
        prom.stop()
    assert "level=error" not in tidewell.logs()
    assert not remote_write_complaints(prom.logs())  # e.g. RW 2.0 written-counts headers
    served = request_counts(tidewell.url)  # Mimir's server metrics, by Mimir's route names
    assert served[("api_v1_push", "2xx")] > 0, dict(served)  # RW 2.0 is answered 204
    assert served[("prometheus_api_v1_query", "2xx")] >= len(SELECTORS), dict(served)


def request_counts(url: str) -> dict[tuple[str, str], float]:
    """``cortex_request_duration_seconds_count`` by route and status class."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[tuple[str, str], float] = defaultdict(float)
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text):
        for s in family.samples:
            if s.name == "cortex_request_duration_seconds_count":
                out[(s.labels["route"], s.labels["status_code"][0] + "xx")] += s.value
    return out


def test_prometheus3_sends_scraped_native_histograms_over_rw2(
    tidewell: TidewellProcess, tmp_path: Path
) -> None:
    """Prometheus 3 scrapes its own native histograms and sends them as RW 2.0: all accepted.

    Prometheus checks RW 2.0's X-Prometheus-Remote-Write-Histograms-Written header against
    what it sent and counts the difference as failed ("2xx ... yet statistics indicate some
    data was not written"): with ingestion disabled Tidewell says 0 and this test fails.
    """
    tidewell.args = ["-auth.multitenancy-enabled=false"]
    tidewell.start()
    prom_port = free_port()
    prom = PrometheusProcess(
        workdir=tmp_path / "prometheus",
        port=prom_port,
        config=self_scrape_config(prom_port, f"{tidewell.url}/api/v1/push",
                                  protobuf_message=RW2, native_histograms=True),
    )
    prom.start()
    try:
        wait_for_series(f"{tidewell.url}/prometheus", "up", timeout_s=60)
        deadline = time.monotonic() + 60
        while True:  # Prometheus counts a histogram as sent once Tidewell acknowledged it
            sent = remote_storage_counters(prom.url)
            if sent.get("prometheus_remote_storage_histograms_total", 0) > 0:
                break
            assert time.monotonic() < deadline, sent
            time.sleep(0.5)
        assert sent.get("prometheus_remote_storage_histograms_failed_total", 0) == 0, (
            sent, remote_write_complaints(prom.logs()), tidewell.logs()[-3000:])
        assert sent.get("prometheus_remote_storage_samples_failed_total", 0) == 0, sent
    finally:
        prom.stop()
    assert "level=error" not in tidewell.logs()
    assert not remote_write_complaints(prom.logs())
