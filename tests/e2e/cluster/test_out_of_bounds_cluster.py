"""Out of bounds across processes: the distributor refuses with 400 what the ingesters'
heads (two zones, other processes) would drop after the ack, from the floors it polls
from them; newer samples are accepted and all of them queryable, and no ingester
discards anything it was sent."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from tests.e2e.cluster.conftest import new_cluster
from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress
from tidewell.tool.localcluster.supervisor import ClusterLayout, LocalCluster

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

TENANT = "oob"
HOUR_MS = 3_600_000
PUSH = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0", "X-Scope-OrgID": TENANT}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    c = new_cluster(tmp_path_factory.mktemp("oob"),
                    ClusterLayout(zones=2, partitions=1, distributors=1, queriers=1,
                                  store_gateways=1, query_frontends=0, compactors=0),
                    ready_timeout_s=180.0)
    c.start()
    try:
        yield c
    finally:
        c.stop()


def body(name: str, ts: list[int]) -> bytes:
    batch = SampleBatch([Labels.from_dict({"__name__": name})],
                        np.zeros(len(ts), dtype=np.int32), np.array(ts, dtype=np.int64),
                        np.ones(len(ts)))
    return bytes(snappy_compress(encode_write_request(batch)))


def metric(url: str, name: str, labels: str = "") -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.split("{")[0].split(" ")[0] == name and labels in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def stored(querier: str) -> dict[str, list[int]]:
    r = httpx.get(f"{querier}/prometheus/api/v1/query", timeout=30,
                  headers={"X-Scope-OrgID": TENANT, "X-Read-Consistency": "strong"},
                  params={"query": '{__name__=~"fresh.*|stale"}[1d]', "time": time.time()})
    assert r.status_code == 200, r.text
    return {s["metric"]["__name__"]: [round(float(t) * 1000) for t, _ in s["values"]]
            for s in r.json()["data"]["result"]}


def test_too_old_for_every_replica_is_refused_before_the_ack(cluster: LocalCluster) -> None:
    distributor = cluster.process("distributor-0").url
    querier = cluster.process("querier-0").url
    ingesters = [cluster.process(f"ingester-zone-{z}-0").url for z in "ab"]
    now = int(time.time() * 1000)
    with httpx.Client(base_url=distributor, timeout=30, headers=PUSH) as c:
        assert c.post("/api/v1/push", content=body("fresh", [now])).status_code == 200
        assert stored(querier) == {"fresh": [now]}  # both zones consumed it (strong read)
        # Two polling rounds after that: one started after both heads held the sample.
        rounds = metric(distributor, "tidewell_distributor_appendable_floors_refreshes_total")
        deadline = time.monotonic() + 60
        while metric(distributor,
                     "tidewell_distributor_appendable_floors_refreshes_total") < rounds + 2:
            assert time.monotonic() < deadline, "the distributor never polled the floors"
            time.sleep(0.5)
        assert metric(distributor, "tidewell_distributor_appendable_floors_partitions") == 1

        r = c.post("/api/v1/push", content=body("stale", [now - 2 * HOUR_MS]))
        assert r.status_code == 400, r.text
        assert "sample-timestamp-too-old" in r.text and "stale" in r.text
        assert c.post("/api/v1/push", content=body("fresh2", [now - 1_000, now])).status_code \
            == 200
    assert stored(querier) == {"fresh": [now], "fresh2": [now - 1_000, now]}
    assert metric(distributor, "cortex_discarded_samples_total",
                  'reason="sample-timestamp-too-old"') == 1
    for url in ingesters:  # nothing acknowledged was dropped
        assert metric(url, "cortex_discarded_samples_total") == 0

    # A replica that stops answering keeps its last floor (lower than its real one).
    cluster.kill("ingester-zone-b-0", signal.SIGKILL)
    try:
        failures = metric(distributor, "tidewell_distributor_appendable_floors_poll_failures_total")
        deadline = time.monotonic() + 60
        while metric(distributor,
                     "tidewell_distributor_appendable_floors_poll_failures_total") == failures:
            assert time.monotonic() < deadline, "the distributor never polled the dead ingester"
            time.sleep(0.5)
        assert metric(distributor, "tidewell_distributor_appendable_floors_partitions") == 1
        r = httpx.post(f"{distributor}/api/v1/push", content=body("stale2", [now - 2 * HOUR_MS]),
                       headers=PUSH, timeout=30)
        assert r.status_code == 400, r.text
    finally:
        cluster.restart("ingester-zone-b-0")
