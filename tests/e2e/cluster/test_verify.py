"""``tidewell tool verify`` on a real local cluster (Apache Kafka, etcd, moto): every check
passes on a healthy cluster and each fails for its own reason when broken on purpose.

One module-scoped cluster (2 zones x 2 partitions, 2 distributors) with 20 s blocks, cut
and shipped every second, so a block reaches the bucket seconds after it ends. A
background writer keeps pushing current samples through both distributors; the tests
run in file order and repair what they broke.

Shipping is turned off (``shipping_stopped``) by the first test that does not need it, so the
newest block ages while the distributor and ingester checks run: the blocks check fails 20-40 s
after that, and ``test_shipping_disabled_fails`` waits only for what is left of it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.e2e.cluster.conftest import new_cluster
from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress
from tidewell.tool.localcluster.supervisor import ClusterLayout, LocalCluster

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

SERIES = 40  # spread over both partitions
BLOCK_RANGE_S = 20
# Limit 50 s: a head is cut once it spans 1.5 ranges, so while shipping (every second) the
# newest block ends 0.5-1.5 ranges (10-30 s) ago, plus a few seconds to cut and upload it.
# (10 s blocks with a 15 s grace saved ~20 s but failed the healthy check on a quiet run.)
GRACE = "30s"
WINDOW = "3s"  # > 2 x the 1 s offset-commit interval


def _body(timestamps_ms: np.ndarray) -> bytes:
    labels = [Labels({"__name__": "verify_test", "series": str(i)}.items())
              for i in range(SERIES)]
    n = len(timestamps_ms)
    idx = np.repeat(np.arange(SERIES, dtype=np.int32), n)
    ts = np.tile(timestamps_ms, SERIES).astype(np.int64)
    batch = SampleBatch(labels=labels, series_index=idx, timestamps=ts,
                        values=ts.astype(np.float64) + idx)
    return bytes(snappy_compress(encode_write_request(batch)))


class Writer(threading.Thread):
    """Pushes current samples every 0.3 s, alternating distributors; tolerates outages."""

    def __init__(self, urls: list[str]) -> None:
        super().__init__(daemon=True)
        self.urls = urls
        self.stopped = threading.Event()
        self.accepted = 0

    def push(self, url: str, body: bytes) -> bool:
        try:
            r = httpx.post(f"{url}/api/v1/push", content=body, timeout=10, headers={
                "Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
                "X-Prometheus-Remote-Write-Version": "0.1.0"})
        except httpx.HTTPError:
            return False
        return r.status_code == 200

    def run(self) -> None:
        now_ms = int(time.time() * 1000)
        # A minute of history first, so the heads already span several block ranges.
        self.push(self.urls[0], _body(np.arange(now_ms - 60_000, now_ms, 1000)))
        last = now_ms
        i = 0
        while not self.stopped.wait(0.3):
            now_ms = int(time.time() * 1000)
            if now_ms <= last:
                continue
            if self.push(self.urls[i % len(self.urls)], _body(np.asarray([now_ms]))):
                self.accepted += 1
            last = now_ms
            i += 1


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    c = new_cluster(tmp_path_factory.mktemp("verify"),
                    ClusterLayout(zones=2, partitions=2, distributors=2, queriers=0,
                                  store_gateways=0, query_frontends=0),
                    broker="kafka", ready_timeout_s=180.0,
                    settings={"auth.multitenancy-enabled": "false",
                              "blocks-storage.tsdb.block-ranges-period": f"{BLOCK_RANGE_S}s",
                              "blocks-storage.tsdb.head-compaction-interval": "1s",
                              "blocks-storage.tsdb.ship-interval": "1s",
                              # Where a compactor keeps the bucket index, it does so promptly.
                              "compactor.cleanup-interval": "2s"})
    c.start()
    writer = Writer([c.process(f"distributor-{i}").url for i in range(2)])
    writer.start()
    try:
        yield c
    finally:
        writer.stopped.set()
        writer.join(15)
        c.stop()


@pytest.fixture(scope="module")
def shipping_stopped(cluster: LocalCluster) -> LocalCluster:
    """Every ingester restarted with ``-blocks-storage.tsdb.ship-interval=0`` (for the module)."""
    ingesters = [n for n, p in cluster.processes.items() if p.target == "ingester"]
    for name in ingesters:  # flags after -config.file win; kept by later restarts
        cluster.process(name).argv.append("-blocks-storage.tsdb.ship-interval=0")
    # All at once: the newest shipped block starts ageing when the first one stops.
    restarted = [cluster.restart(name, wait_ready=False) for name in ingesters]
    cluster.wait_ready(restarted, cluster.ready_timeout_s)
    return cluster


def verify(cluster: LocalCluster, *args: str) -> tuple[int, list[dict[str, str]], str]:
    """Run the command as an operator would; exit code, JSON results, stderr."""
    proc = subprocess.run(
        [sys.executable, "-m", "tidewell", "tool", "verify", "--cluster", str(cluster.root),
         "--window", WINDOW, "--block-grace", GRACE, "--output", "json", *args],
        capture_output=True, text=True, timeout=120)
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)["results"], proc.stderr


def lines(results: list[dict[str, str]], check: str) -> list[dict[str, str]]:
    return [r for r in results if r["check"] == check]


def wait_for(cluster: LocalCluster, check: str, status: str, timeout_s: float,
             *args: str, line: str = "") -> list[dict[str, str]]:
    """Run ``--checks check`` until every line of it (or of the lines named ``line`` it
    reports) has ``status``; the last results."""
    deadline = time.monotonic() + timeout_s
    while True:
        _code, results, _err = verify(cluster, "--checks", check, *args)
        mine = lines(results, line or check)
        if mine and all(r["status"] == status for r in mine):
            return results
        if time.monotonic() > deadline:
            raise AssertionError(f"{check} not all {status} after {timeout_s}s: {results}")
        time.sleep(0.5)


def test_healthy_cluster_passes_every_check(cluster: LocalCluster) -> None:
    wait_for(cluster, "blocks", "PASS", 90)  # the first blocks reach the bucket
    # and the compactor's next cleanup (every 2 s) lists them in the first bucket index: on
    # a clean CI machine the blocks were there seconds before it, twice.
    wait_for(cluster, "blocks", "PASS", 60, line="bucket-index")
    code, results, err = verify(cluster)
    not_passed = [r for r in results if r["status"] != "PASS"]  # the lines a failure is about
    assert code == 0, (not_passed, err)
    assert not not_passed, not_passed
    produce = lines(results, "produce")
    assert sorted(r["subject"].split()[0] for r in produce) == ["distributor-0", "distributor-1"]
    assert all("acknowledged" in r["reason"] for r in produce)
    topic, *consume = lines(results, "consume")
    assert topic == {"check": "consume", "subject": "topic ingest", "status": "PASS",
                     "reason": "2 partitions, 2 ACTIVE, at most 2 ingesters per zone"}
    # Every (partition, zone) pair has its owner, and the offset came from the broker.
    assert sorted(r["subject"] for r in consume) == [
        "partition 0 zone-a ingester-zone-a-0", "partition 0 zone-b ingester-zone-b-0",
        "partition 1 zone-a ingester-zone-a-1", "partition 1 zone-b ingester-zone-b-1"]
    assert all("committed" in r["reason"] and "lag" in r["reason"] for r in consume)
    assert [r["subject"] for r in lines(results, "blocks")] == ["tenant anonymous"]
    assert [r["status"] for r in lines(results, "bucket-index")] == ["PASS"]


def test_table_output_and_exit_code(cluster: LocalCluster) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tidewell", "tool", "verify", "--cluster", str(cluster.root),
         "--window", WINDOW, "--block-grace", GRACE, "--checks", "produce"],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    header, *rows = proc.stdout.splitlines()
    assert header.split() == ["CHECK", "SUBJECT", "STATUS", "REASON"]
    assert sum(" PASS " in row for row in rows) == 2
    assert rows[-1] == "2 PASS, 0 WARN, 0 FAIL"


def test_stopped_distributors_fail(shipping_stopped: LocalCluster) -> None:
    cluster = shipping_stopped  # produce only: shipping is not needed
    for i in range(2):
        cluster.kill(f"distributor-{i}", signal.SIGTERM)
    try:
        code, results, _ = verify(cluster, "--checks", "produce")
        assert code == 1
        produce = lines(results, "produce")
        assert len(produce) == 2
        assert all(r["status"] == "FAIL" and "does not answer" in r["reason"] for r in produce)
    finally:
        restarted = [cluster.restart(f"distributor-{i}", wait_ready=False) for i in range(2)]
        cluster.wait_ready(restarted, cluster.ready_timeout_s)
    wait_for(cluster, "produce", "PASS", 60)


def test_killed_ingester_lags_and_fails(shipping_stopped: LocalCluster) -> None:
    cluster = shipping_stopped  # consume only: shipping is not needed
    cluster.kill("ingester-zone-a-0", signal.SIGKILL)
    try:
        time.sleep(2)  # records keep arriving on partition 0
        code, results, _ = verify(cluster, "--checks", "consume")
        assert code == 1
        by_subject = {r["subject"]: r for r in lines(results, "consume")}
        dead = by_subject.pop("partition 0 zone-a ingester-zone-a-0")
        assert dead["status"] == "FAIL"
        assert "not consuming" in dead["reason"] and "unreachable" in dead["reason"], dead
        assert {r["status"] for r in by_subject.values()} == {"PASS"}, by_subject
    finally:
        cluster.restart("ingester-zone-a-0")
    wait_for(cluster, "consume", "PASS", 90)


def test_shipping_disabled_fails(shipping_stopped: LocalCluster) -> None:
    cluster = shipping_stopped
    results = wait_for(cluster, "blocks", "FAIL", 120)
    (blocks,) = lines(results, "blocks")
    assert "stopped shipping" in blocks["reason"], blocks
    assert f"{BLOCK_RANGE_S}s block range + {GRACE} grace" in blocks["reason"]
    # Consumption is unaffected: the failure is about shipping only.
    code, results, _ = verify(cluster, "--checks", "consume")
    assert code == 0, results


def test_no_deployment_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "tidewell", "tool", "verify", "--cluster",
                           str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "no local cluster recorded" in proc.stderr
