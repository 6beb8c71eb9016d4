"""Out of bounds across processes: the distributor refuses with 400 what the ingesters'
heads (two zones, other processes) would drop after the ack, from the floors it polls
from them; newer samples are accepted and all of them queryable, and no ingester
discards anything it was sent.

On the shared cluster (tests/e2e/cluster/conftest.py: two zones x two partitions), with
its own tenant: each name is ``SERIES`` series, so every push reaches both partitions.
"""

from __future__ import annotations

import signal
import time

import httpx
import numpy as np
import pytest

from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress
from tidewell.tool.localcluster.supervisor import LocalCluster

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

TENANT = "oob"  # the shared cluster's other users have their own
SERIES = 8  # series per name: both partitions get some (checked below)
# Bytes after the one that differs: FNV-1 (Mimir's series token) mixes a difference into
# the low bits (those that pick between interleaved partition tokens) only by the
# multiplications after it, so "0".."7" alone would all land on one partition.
IDS = [f"{i}-of-{SERIES}-series" for i in range(SERIES)]
HOUR_MS = 3_600_000
PUSH = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0", "X-Scope-OrgID": TENANT}
TOO_OLD = (f'user="{TENANT}"', 'reason="sample-timestamp-too-old"')


@pytest.fixture
def cluster(shared_cluster: LocalCluster) -> LocalCluster:
    return shared_cluster


def body(name: str, ts: list[int]) -> bytes:
    """``SERIES`` series of ``name``, each with the samples ``ts``."""
    labels = [Labels.from_dict({"__name__": name, "i": i}) for i in IDS]
    batch = SampleBatch(labels, np.repeat(np.arange(SERIES, dtype=np.int32), len(ts)),
                        np.tile(np.array(ts, dtype=np.int64), SERIES), np.ones(SERIES * len(ts)))
    return bytes(snappy_compress(encode_write_request(batch)))


def metric(url: str, name: str, *labels: str) -> float:
    """The sum of ``name``'s samples whose labels include every one of ``labels``."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.split("{")[0].split(" ")[0] == name and all(x in line for x in labels):
            total += float(line.rsplit(" ", 1)[1])
    return total


def stored(querier: str) -> dict[str, list[int]]:
    """Name → its samples' timestamps (all ``SERIES`` of its series hold the same ones)."""
    r = httpx.get(f"{querier}/prometheus/api/v1/query", timeout=30,
                  headers={"X-Scope-OrgID": TENANT, "X-Read-Consistency": "strong"},
                  params={"query": '{__name__=~"fresh.*|stale.*"}[1d]', "time": time.time()})
    assert r.status_code == 200, r.text
    by_name: dict[str, dict[str, tuple[int, ...]]] = {}
    for s in r.json()["data"]["result"]:
        by_name.setdefault(s["metric"]["__name__"], {})[s["metric"]["i"]] = tuple(
            round(float(t) * 1000) for t, _ in s["values"])
    out = {}
    for name, series in by_name.items():
        assert sorted(series) == sorted(IDS), (name, series)
        assert len(set(series.values())) == 1, (name, series)
        out[name] = list(next(iter(series.values())))
    return out


def test_too_old_for_every_replica_is_refused_before_the_ack(cluster: LocalCluster) -> None:
    distributor = cluster.process("distributor-0").url
    querier = cluster.process("querier-0").url
    ingesters = [p.url for p in cluster.processes.values() if p.target == "ingester"]
    partitions = cluster.layout.partitions
    now = int(time.time() * 1000)
    with httpx.Client(base_url=distributor, timeout=30, headers=PUSH) as c:
        assert c.post("/api/v1/push", content=body("fresh", [now])).status_code == 200
        assert stored(querier) == {"fresh": [now]}  # both zones consumed it (strong read)
        for z in range(partitions):  # the tenant has a head on every partition
            assert metric(cluster.process(f"ingester-zone-a-{z}").url,
                          "cortex_ingester_ingested_samples_total", f'user="{TENANT}"') > 0, z
        # Two polling rounds after that: one started after both heads held the sample.
        rounds = metric(distributor, "tidewell_distributor_appendable_floors_refreshes_total")
        deadline = time.monotonic() + 60
        while metric(distributor,
                     "tidewell_distributor_appendable_floors_refreshes_total") < rounds + 2:
            assert time.monotonic() < deadline, "the distributor never polled the floors"
            time.sleep(0.5)
        assert metric(distributor,
                      "tidewell_distributor_appendable_floors_partitions") == partitions

        r = c.post("/api/v1/push", content=body("stale", [now - 2 * HOUR_MS]))
        assert r.status_code == 400, r.text
        assert "sample-timestamp-too-old" in r.text and "stale" in r.text
        assert c.post("/api/v1/push", content=body("fresh2", [now - 1_000, now])).status_code \
            == 200
    assert stored(querier) == {"fresh": [now], "fresh2": [now - 1_000, now]}
    assert metric(distributor, "cortex_discarded_samples_total", *TOO_OLD) == SERIES, [
        x for x in httpx.get(f"{distributor}/metrics").text.splitlines() if "discarded" in x]
    for url in ingesters:  # nothing acknowledged was dropped
        assert metric(url, "cortex_discarded_samples_total", f'user="{TENANT}"') == 0

    # A replica that stops answering keeps its last floor (lower than its real one).
    cluster.kill("ingester-zone-b-0", signal.SIGKILL)
    try:
        failures = metric(distributor, "tidewell_distributor_appendable_floors_poll_failures_total")
        deadline = time.monotonic() + 60
        while metric(distributor,
                     "tidewell_distributor_appendable_floors_poll_failures_total") == failures:
            assert time.monotonic() < deadline, "the distributor never polled the dead ingester"
            time.sleep(0.5)
        assert metric(distributor,
                      "tidewell_distributor_appendable_floors_partitions") == partitions
        r = httpx.post(f"{distributor}/api/v1/push", content=body("stale2", [now - 2 * HOUR_MS]),
                       headers=PUSH, timeout=30)
        assert r.status_code == 400, r.text
        # Every series refused, those of partition 0 (whose zone-b owner is dead) too.
        assert metric(distributor, "cortex_discarded_samples_total", *TOO_OLD) == 2 * SERIES
    finally:
        cluster.restart("ingester-zone-b-0")
