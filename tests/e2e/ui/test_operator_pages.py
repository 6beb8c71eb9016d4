"""The operator's pages of a real ``tidewell`` (-target=all): the index at ``/``, ring pages
in one process, Mimir's ``buildinfo`` as Grafana reads it, the runtime config, and the
cardinality and TSDB status APIs through the whole stack (query-frontend included)."""

from __future__ import annotations

import time

import httpx
import numpy as np

from tests.e2e.conftest import TidewellProcess
from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress


def push(url: str, tenant: str, series: list[dict[str, str]]) -> None:
    """One sample now for each series."""
    labels = [Labels.from_dict(s) for s in series]
    now = int(time.time() * 1000)
    batch = SampleBatch(labels=labels, series_index=np.arange(len(labels), dtype=np.int32),
                        timestamps=np.full(len(labels), now, dtype=np.int64),
                        values=np.ones(len(labels)))
    r = httpx.post(f"{url}/api/v1/push", content=bytes(snappy_compress(
        encode_write_request(batch))), headers={
        "Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0", "X-Scope-OrgID": tenant}, timeout=60)
    assert r.status_code == 200, r.text


def test_index_rings_buildinfo_runtime_config_and_cardinality(
        tidewell: TidewellProcess) -> None:
    tidewell.args = ["-auth.multitenancy-enabled=true",
                     "-querier.cardinality-analysis-enabled=true"]
    tidewell.start()
    url = tidewell.url
    index = httpx.get(f"{url}/").text
    for path in ("/ingester/ring", "/store-gateway/ring", "/ingester/partition-ring",
                 "/runtime_config", "/services", "/config", "/metrics", "/ingester/flush"):
        assert f"href='{path}'" in index, path
    for page in ("/ingester/ring", "/store-gateway/ring"):
        doc = httpx.get(f"{url}{page}", params={"format": "json"}).json()
        assert [s["state"] for s in doc["shards"]] == ["ACTIVE"], (page, doc)
        assert httpx.get(f"{url}{page}").status_code == 200
    for prefix in ("", "/prometheus"):
        info = httpx.get(f"{url}{prefix}/api/v1/status/buildinfo").json()
        assert info["status"] == "success"
        assert info["data"]["application"] == "Grafana Mimir"
        assert info["data"]["features"]["ruler_config_api"] in ("true", "false")
        assert info["data"]["version"]
    rc = httpx.get(f"{url}/runtime_config", params={"tenant": "t1", "format": "json"}).json()
    assert rc["limits"]["cardinality_analysis_enabled"] is True

    push(url, "t1", [{"__name__": "jobs_total", "job": "a", "i": str(i)} for i in range(7)]
         + [{"__name__": "up", "job": "b"}])
    push(url, "t2", [{"__name__": "other", "job": "z"}])
    deadline = time.monotonic() + 30
    while True:  # the ingester consumes the log asynchronously
        r = httpx.get(f"{url}/prometheus/api/v1/cardinality/label_names",
                      headers={"X-Scope-OrgID": "t1"}, timeout=30)
        assert r.status_code == 200, r.text
        if r.json()["label_values_count_total"] == 11 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.json() == {"label_values_count_total": 11, "label_names_count": 3, "cardinality": [
        {"label_name": "i", "label_values_count": 7},
        {"label_name": "__name__", "label_values_count": 2},
        {"label_name": "job", "label_values_count": 2}]}
    r = httpx.get(f"{url}/prometheus/api/v1/cardinality/active_series",
                  params={"selector": '{job=~".+"}'}, headers={"X-Scope-OrgID": "t2"})
    assert r.json() == {"data": [{"__name__": "other", "job": "z"}]}
    r = httpx.get(f"{url}/prometheus/api/v1/status/tsdb", params={"limit": 1},
                  headers={"X-Scope-OrgID": "t1"})
    data = r.json()["data"]
    assert data["headStats"]["numSeries"] == 8
    assert data["seriesCountByMetricName"] == [{"name": "jobs_total", "value": 7}]
