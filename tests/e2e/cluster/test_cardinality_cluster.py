"""Cardinality and TSDB status through the microservices: distributor → Kafka-compatible
log → ingesters of two zones x two partitions → the querier's fan-out over
``/internal/v1/label_stats`` → query-frontend. Every series is held by two ingesters
(one per zone) yet counted once; tenants stay apart; one zone's ingester dying changes
nothing."""

from __future__ import annotations

import signal
import time
from typing import Any

import httpx
import pytest

from tidewell.protocol import snappy_compress
from tidewell.protocol.pb import prompb_pb2 as pb
from tidewell.tool.localcluster.supervisor import LocalCluster

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

TENANT, OTHER = "card-a", "card-b"  # the shared cluster's other users have their own


@pytest.fixture
def cluster(shared_cluster: LocalCluster) -> LocalCluster:
    return shared_cluster  # tests/e2e/cluster/conftest.py: cardinality analysis is on


def _push(url: str, tenant: str, series: list[dict[str, str]]) -> None:
    req = pb.WriteRequest()
    now = int(time.time() * 1000)
    for labels in series:
        ts = req.timeseries.add()
        for n, v in sorted(labels.items()):
            ts.labels.add(name=n, value=v)
        ts.samples.add(value=1.0, timestamp=now)
    r = httpx.post(f"{url}/api/v1/push", content=bytes(snappy_compress(req.SerializeToString())),
                   timeout=30, headers={
                       "Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
                       "X-Prometheus-Remote-Write-Version": "0.1.0", "X-Scope-OrgID": tenant})
    assert r.status_code in (200, 204), r.text


def _get(frontend: str, path: str, tenant: str, params: dict[str, Any]) -> Any:
    r = httpx.get(f"{frontend}/prometheus/api/v1/{path}", params=params, timeout=30,
                  headers={"X-Scope-OrgID": tenant})
    assert r.status_code == 200, r.text
    return r.json()


def _wait(check: Any, want: Any, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    got = None
    while time.monotonic() < deadline:
        got = check()
        if got == want:
            return
        time.sleep(0.5)
    raise AssertionError(f"never got {want!r}; last {got!r}")


def test_counts_once_across_zones_and_partitions(cluster: LocalCluster) -> None:
    distributor = cluster.process("distributor-0").url
    frontend = cluster.process("query-frontend-0").url
    # 12 series (spread over both partitions): 4 pods x 3 codes; the other tenant 2.
    _push(distributor, TENANT, [{"__name__": "http_requests_total", "pod": f"pod-{p}",
                                 "code": c} for p in range(4) for c in ("200", "404", "500")])
    _push(distributor, OTHER, [{"__name__": "other_total", "pod": f"x-{i}"} for i in range(2)])

    def values(tenant: str) -> Any:
        body = _get(frontend, "cardinality/label_values", tenant,
                    {"label_names[]": ["pod", "code"]})
        return body["series_count_total"], {
            lbl["label_name"]: {c["label_value"]: c["series_count"] for c in lbl["cardinality"]}
            for lbl in body["labels"]}

    want = (12, {"pod": {f"pod-{p}": 3 for p in range(4)},
                 "code": {"200": 4, "404": 4, "500": 4}})
    _wait(lambda: values(TENANT), want)
    _wait(lambda: values(OTHER), (2, {"pod": {"x-0": 1, "x-1": 1}}))
    names = _get(frontend, "cardinality/label_names", TENANT, {})
    assert names["label_values_count_total"] == 8 and names["label_names_count"] == 3
    tsdb = _get(frontend, "status/tsdb", TENANT, {"limit": 2})["data"]
    assert tsdb["headStats"]["numSeries"] == 12
    assert tsdb["seriesCountByMetricName"] == [{"name": "http_requests_total", "value": 12}]
    active = _get(frontend, "cardinality/active_series", TENANT, {"selector": '{code="404"}'})
    assert sorted(s["pod"] for s in active["data"]) == [f"pod-{p}" for p in range(4)]

    cluster.kill("ingester-zone-a-0", signal.SIGKILL)
    try:
        _wait(lambda: values(TENANT), want)
    finally:
        cluster.restart("ingester-zone-a-0")
