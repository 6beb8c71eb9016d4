"""Prometheus 3 scrapes its own native histograms and remote-writes them (RW 1.0 and 2.0):
Tidewell then serves exactly the raw histogram samples Prometheus itself stored."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import TidewellProcess
from tests.support.ports import free_port
from tests.support.prometheus import RW2, PrometheusProcess, self_scrape_config

SELECTOR = "prometheus_http_request_duration_seconds"  # native in Prometheus 3's own metrics


def raw_histograms(url: str, at: float) -> list[tuple[dict, list]]:
    """The raw samples of the last 30s before ``at`` (a range selector: no evaluation)."""
    r = httpx.get(f"{url}/api/v1/query", timeout=30,
                  params={"query": f"{SELECTOR}[30s]", "time": at})
    assert r.status_code == 200, r.text
    out = []
    for s in r.json()["data"]["result"]:
        assert "values" not in s, s  # native histograms only
        out.append((s["metric"], s["histograms"]))
    return sorted(out, key=lambda x: sorted(x[0].items()))


def same(ours: list[tuple[dict, list]], theirs: list[tuple[dict, list]]) -> bool:
    """Equal series, timestamps, counts, sums and buckets, bounds printed to the digit
    (Prometheus takes bounds from a constant table; so do we)."""
    return ours == theirs


@pytest.mark.parametrize("protobuf_message", [None, RW2], ids=["rw1", "rw2"])
def test_prometheus3_native_histograms_arrive_sample_for_sample(
    tidewell: TidewellProcess, tmp_path: Path, protobuf_message: str | None
) -> None:
    tidewell.args = ["-auth.multitenancy-enabled=false"]
    tidewell.start()
    prom_port = free_port()
    prom = PrometheusProcess(
        workdir=tmp_path / "prometheus", port=prom_port,
        config=self_scrape_config(prom_port, f"{tidewell.url}/api/v1/push",
                                  protobuf_message=protobuf_message, native_histograms=True),
    )
    prom.start()
    try:
        deadline = time.monotonic() + 60
        while True:  # a few scrapes first
            at = time.time()
            theirs = raw_histograms(prom.url, at)
            if len(theirs) >= 2 and all(len(h) >= 3 for _, h in theirs):
                break
            assert time.monotonic() < deadline, theirs
            time.sleep(0.5)
        deadline = time.monotonic() + 60
        while not same(ours := raw_histograms(f"{tidewell.url}/prometheus", at), theirs):
            # remote write lags a little behind ``at``; then Tidewell holds the same samples
            assert time.monotonic() < deadline, (ours, theirs)
            time.sleep(0.5)
    finally:
        prom.stop()
    assert "level=error" not in tidewell.logs()
