"""Exemplars and metadata through the microservices: distributor → Kafka-compatible log →
ingesters of two zones x two partitions → querier fan-out over the internal RPC →
query-frontend; both zones' answers merged without duplicates, tenants apart, and one
zone's ingester killed without losing anything."""

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

SERIES = 8  # spread over both partitions
TENANT, OTHER = "meta-a", "meta-b"  # the shared cluster's other users have their own


@pytest.fixture
def cluster(shared_cluster: LocalCluster) -> LocalCluster:
    return shared_cluster  # tests/e2e/cluster/conftest.py


def _request(now_ms: int, trace_prefix: str) -> bytes:
    req = pb.WriteRequest()
    for i in range(SERIES):
        ts = req.timeseries.add()
        for n, v in (("__name__", "checkout_requests_total"), ("job", "shop"),
                     ("pod", f"pod-{i}")):
            ts.labels.add(name=n, value=v)
        ts.samples.add(value=float(i), timestamp=now_ms)
        ex = ts.exemplars.add(value=0.5 + i, timestamp=now_ms)
        ex.labels.add(name="trace_id", value=f"{trace_prefix}-{i}")
    req.metadata.add(type=pb.MetricMetadata.COUNTER, metric_family_name="checkout_requests",
                     help=f"Checkouts ({trace_prefix}).", unit="")
    return bytes(snappy_compress(req.SerializeToString()))


def _push(url: str, tenant: str, body: bytes) -> None:
    r = httpx.post(f"{url}/api/v1/push", content=body, timeout=30, headers={
        "Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0", "X-Scope-OrgID": tenant})
    assert r.status_code in (200, 204), r.text


def _get(frontend: str, path: str, tenant: str, params: dict[str, str]) -> Any:
    r = httpx.get(f"{frontend}/prometheus/api/v1/{path}", params=params, timeout=30,
                  headers={"X-Scope-OrgID": tenant})
    assert r.status_code == 200, r.text
    return r.json()["data"]


def _traces(frontend: str, tenant: str) -> list[tuple[str, list[str]]]:
    data = _get(frontend, "query_exemplars", tenant,
                {"query": 'checkout_requests_total{job="shop"}', "start": "0",
                 "end": str(time.time() + 600)})
    return [(s["seriesLabels"]["pod"], [x["labels"]["trace_id"] for x in s["exemplars"]])
            for s in data]


def _wait(check: Any, want: Any, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    got = None
    while time.monotonic() < deadline:
        got = check()
        if got == want:
            return
        time.sleep(0.5)
    raise AssertionError(f"never got {want!r}; last {got!r}")


def test_exemplars_and_metadata_across_processes(cluster: LocalCluster) -> None:
    distributor = cluster.process("distributor-0").url
    frontend = cluster.process("query-frontend-0").url
    now = int(time.time() * 1000)
    _push(distributor, TENANT, _request(now, "a"))
    _push(distributor, OTHER, _request(now, "b"))
    want = [(f"pod-{i}", [f"a-{i}"]) for i in range(SERIES)]
    _wait(lambda: _traces(frontend, TENANT), want)
    _wait(lambda: _traces(frontend, OTHER), [(f"pod-{i}", [f"b-{i}"]) for i in range(SERIES)])
    data = _get(frontend, "query_exemplars", TENANT,
                {"query": 'checkout_requests_total{pod="pod-3"}', "start": "0",
                 "end": str(time.time() + 600)})
    assert data[0]["exemplars"] == [{"labels": {"trace_id": "a-3"}, "value": "3.5",
                                     "timestamp": now / 1000}]
    # Both partitions hold the family's metadata, both zones each partition: one entry.
    _wait(lambda: _get(frontend, "metadata", TENANT, {}), {"checkout_requests": [
        {"type": "counter", "help": "Checkouts (a).", "unit": ""}]})

    # A second exemplar per series later; then zone a's owner of partition 0 dies.
    _push(distributor, TENANT, _request(now + 1000, "c"))
    want = [(f"pod-{i}", [f"a-{i}", f"c-{i}"]) for i in range(SERIES)]
    _wait(lambda: _traces(frontend, TENANT), want)
    cluster.kill("ingester-zone-a-0", signal.SIGKILL)
    try:
        _wait(lambda: _traces(frontend, TENANT), want)
    finally:
        cluster.restart("ingester-zone-a-0")
    # Restarted from its WAL and the log, zone a alone answers the same.
    cluster.kill("ingester-zone-b-0", signal.SIGKILL)
    try:
        _wait(lambda: _traces(frontend, TENANT), want)
    finally:
        cluster.restart("ingester-zone-b-0")
