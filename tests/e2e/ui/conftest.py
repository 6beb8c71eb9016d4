"""A real headless Chromium driven over WebDriver (Debian's ``chromium`` and
``chromium-driver``, installed by scripts/setup.sh); missing ones fail the test loudly."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress

SETUP_HINT = "scripts/setup.sh installs Debian's chromium and chromium-driver"


def _binary(*names: str) -> str:
    for n in names:
        path = shutil.which(n)
        if path:
            return path
    raise AssertionError(f"{' / '.join(names)} is missing; {SETUP_HINT}")


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    opts = webdriver.ChromeOptions()
    opts.binary_location = _binary("chromium", "chromium-browser")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts,
                              service=Service(executable_path=_binary("chromedriver")))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def push_series(url: str, tenant: str, labels: list[dict[str, str]], *, minutes: int = 60,
                step_s: int = 60, end_ms: int | None = None) -> int:
    """``minutes`` of samples every ``step_s`` for each series (value = series index + t);
    returns the last timestamp (ms)."""
    end = end_ms if end_ms is not None else int(time.time() * 1000) // 60_000 * 60_000
    ts = end - step_s * 1000 * np.arange(minutes * 60 // step_s, -1, -1, dtype=np.int64)
    n = len(labels)
    batch = SampleBatch(labels=[Labels.from_dict(x) for x in labels],
                        series_index=np.repeat(np.arange(n, dtype=np.int32), len(ts)),
                        timestamps=np.tile(ts, n),
                        values=(np.repeat(np.arange(n), len(ts)) + np.tile(np.arange(len(ts)), n)
                                ).astype(np.float64))
    r = httpx.post(f"{url}/api/v1/push", content=bytes(snappy_compress(
        encode_write_request(batch))), headers={
        "Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0", "X-Scope-OrgID": tenant}, timeout=60)
    assert r.status_code == 200, r.text
    return end


def wait_queryable(url: str, tenant: str, query: str, want: int, timeout_s: float = 60) -> None:
    """Until the instant query returns ``want`` series (the ingester consumes asynchronously)."""
    deadline = time.monotonic() + timeout_s
    got = -1
    while time.monotonic() < deadline:
        r = httpx.get(f"{url}/prometheus/api/v1/query", params={"query": query},
                      headers={"X-Scope-OrgID": tenant}, timeout=30)
        got = len(r.json()["data"]["result"]) if r.status_code == 200 else -1
        if got == want:
            return
        time.sleep(0.2)
    raise AssertionError(f"{query} returned {got} series, not {want}")
