"""Two tenants on a real ``tidewell`` (-target=all, multi-tenancy on): the JSON of the UI's
ingest, store-gateway blocks and compactor pages, and the pages in a real Chromium, show
the requesting tenant's data only; the compactor's job shows planned, then finished."""

from __future__ import annotations

import time

import httpx
import numpy as np
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.conftest import TidewellProcess
from tests.e2e.ui.conftest import push_series
from tests.e2e.ui.test_browser import page_text
from tests.unit.compactor.test_jobs_status import T0, H, two_zone_blocks
from tidewell.model import Labels, SampleBatch
from tidewell.objstore import FilesystemBucket
from tidewell.protocol import encode_write_request, snappy_compress

WINDOW = {"t1": T0, "t2": T0 + 2 * H}  # each tenant's blocks: its own 2 h


def get(url: str, path: str, tenant: str) -> dict:
    r = httpx.get(f"{url}{path}", headers={"X-Scope-OrgID": tenant}, timeout=30)
    assert r.status_code == 200, (path, r.status_code, r.text)
    return r.json()


def until(fn, what: str, timeout_s: float = 60):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def metric(url: str, name: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def push_without_name(url: str, tenant: str) -> None:
    batch = SampleBatch(labels=[Labels.from_dict({"job": "x"})],
                        series_index=np.zeros(1, dtype=np.int32),
                        timestamps=np.full(1, int(time.time() * 1000), dtype=np.int64),
                        values=np.ones(1))
    r = httpx.post(f"{url}/api/v1/push", content=bytes(snappy_compress(
        encode_write_request(batch))), headers={
        "Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0", "X-Scope-OrgID": tenant}, timeout=60)
    assert r.status_code == 400, r.text


def test_status_json_and_pages_are_scoped_to_the_tenant(
        tidewell: TidewellProcess, browser: WebDriver) -> None:
    tidewell.args = ["-auth.multitenancy-enabled=true", "-compactor.compaction-interval=1h",
                     "-compactor.first-level-compaction-wait-period=0s",
                     "-blocks-storage.bucket-store.sync-interval=1s"]
    tidewell.start()
    url = tidewell.url
    # The compactor's first run (at start, on an empty bucket) is over: what we upload now
    # stays planned until the next run, which the restart below brings.
    until(lambda: metric(url, "cortex_compactor_runs_completed_total") >= 1, "a compactor run")
    bucket = FilesystemBucket(tidewell.data_dir / "bucket")
    ids = {t: two_zone_blocks(bucket, t, tidewell.data_dir.parent / "local", start)
           for t, start in WINDOW.items()}

    planned = get(url, "/compactor/jobs", "t1")
    assert [sorted(j["blocks"]) for j in planned["planned"]] == [ids["t1"]]
    assert planned["finished"] == [] and not any(i in str(planned) for i in ids["t2"])
    text = page_text(browser, f"{url}/ui/#/compactor?tenant=t1", "#compactor-jobs")
    assert "planned" in text and "finished" not in text
    assert "Jobs of tenant t1" in page_text(browser, f"{url}/ui/#/compactor?tenant=t1", "h2")

    tidewell.stop()
    tidewell.start()  # its first run compacts both tenants' blocks
    push_series(url, "t1", [{"__name__": "m", "i": str(i)} for i in range(3)], minutes=10)
    push_series(url, "t2", [{"__name__": "m"}], minutes=10)
    push_without_name(url, "t2")
    ingest = {t: get(url, "/ui/api/v1/ingest", t) for t in ("t1", "t2")}
    assert ingest["t1"]["received_samples"] == 3 * 11 and ingest["t1"]["discarded_samples"] == {}
    assert ingest["t2"]["received_samples"] == 11
    assert ingest["t2"]["discarded_samples"] == {"missing_metric_name": 1}
    assert httpx.get(f"{url}/ui/api/v1/ingest").status_code == 401  # no tenant, no data

    text = page_text(browser, f"{url}/ui/#/ingest?tenant=t2", "#ingest")
    assert "missing_metric_name: 1" in text and "11" in text
    for t in ("t1", "t2"):
        jobs = until(lambda t=t: get(url, "/compactor/jobs", t)["finished"], f"{t}'s job")
        assert [(j["state"], sorted(j["blocks"])) for j in jobs] == [("finished", ids[t])]
        blocks = until(lambda t=t: get(url, "/ui/api/v1/blocks", t)["blocks"], f"{t}'s blocks")
        assert {b["min_time"] for b in blocks} == {WINDOW[t]}, (t, blocks)
    assert get(url, "/compactor/jobs", "t1")["planned"] == []
    text = page_text(browser, f"{url}/ui/#/compactor?tenant=t1", "#compactor-jobs")
    assert "finished" in text and "planned" not in text
    text = page_text(browser, f"{url}/ui/#/blocks?tenant=t2", "#blocks")
    assert "2023-11-14T02:00:00Z" in text and "2023-11-14T00:00:00Z" not in text
