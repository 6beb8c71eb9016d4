"""Issue 8's must-show tests on the full local cluster (2 zones x 3 partitions, 2 of each,
3 store-gateways sharding blocks with replication factor 2)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.e2e.cluster.conftest import new_cluster
from tests.support.ports import free_port
from tests.support.prometheus import PrometheusProcess, promtool_binary, self_scrape_config
from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress
from tidewell.tool.localcluster.supervisor import ClusterLayout, LocalCluster
from tidewell.tsdb.block import write_block

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SERIES = 60  # spread over the 3 partitions
STEP_MS = 15_000


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    c = new_cluster(tmp_path_factory.mktemp("full"),
                    ClusterLayout(topic_partitions=4, store_gateways=3), broker="kafka",
                    settings={"auth.multitenancy-enabled": "false",
                              "store-gateway.sharding-ring.replication-factor": "2",
                              "blocks-storage.bucket-store.sync-interval": "2s"},
                    ready_timeout_s=180.0)
    c.start()
    try:
        yield c
    finally:
        c.stop()


def _url(cluster: LocalCluster, name: str) -> str:
    return cluster.process(name).url


def _body(round_: int, start_ms: int, per_round: int) -> bytes:
    labels = [Labels({"__name__": "cluster_test", "series": str(i)}.items())
              for i in range(SERIES)]
    idx = np.repeat(np.arange(SERIES, dtype=np.int32), per_round)
    ts = np.tile(start_ms + (round_ * per_round + np.arange(per_round)) * STEP_MS,
                 SERIES).astype(np.int64)
    batch = SampleBatch(labels=labels, series_index=idx, timestamps=ts,
                        values=ts.astype(np.float64) / 1000.0 + idx)
    return bytes(snappy_compress(encode_write_request(batch)))


def _push(url: str, body: bytes) -> int:
    r = httpx.post(f"{url}/api/v1/push", content=body, timeout=30, headers={
        "Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0"})
    return r.status_code


def _count(frontend: str, at_ms: int) -> int:
    r = httpx.get(f"{frontend}/prometheus/api/v1/query", timeout=30, params={
        "query": "sum(count_over_time(cluster_test[6h]))", "time": at_ms / 1000})
    assert r.status_code == 200, r.text
    result = r.json()["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def _wait_count(frontend: str, at_ms: int, expected: int, timeout_s: float = 60) -> int:
    deadline = time.monotonic() + timeout_s
    got = -1
    while time.monotonic() < deadline:
        got = _count(frontend, at_ms)
        if got == expected:
            return got
        time.sleep(0.5)
    return got


def _promtool(server: str, expr: str) -> list[dict[str, str]]:
    out = subprocess.run([promtool_binary(), "query", "instant", "-o", "json", server, expr],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    return sorted((s["metric"] for s in json.loads(out)), key=lambda m: sorted(m.items()))


def test_prometheus_writes_to_distributors_and_frontend_answers_alike(
        cluster: LocalCluster, tmp_path: Path) -> None:
    port = free_port()
    prom = PrometheusProcess(workdir=tmp_path / "prometheus", port=port,
                             config=self_scrape_config(
                                 port, f"{_url(cluster, 'distributor-0')}/api/v1/push"))
    prom.start()
    frontend = f"{_url(cluster, 'query-frontend-0')}/prometheus"
    try:
        deadline = time.monotonic() + 90
        while not _promtool(frontend, "prometheus_tsdb_head_series"):
            assert time.monotonic() < deadline, "no data arrived through the cluster"
            time.sleep(1)
        for expr in ("up", 'prometheus_build_info{job="prometheus"}',
                     'prometheus_http_requests_total{handler=~"/-/ready|/metrics"}'):
            deadline = time.monotonic() + 30  # equal once remote write caught up
            while ((ours := _promtool(frontend, expr)) != (theirs := _promtool(prom.url, expr))
                   and time.monotonic() < deadline):
                time.sleep(0.5)
            assert ours == theirs, expr
    finally:
        prom.stop()


def test_sigkill_zone_a_ingester_loses_nothing(cluster: LocalCluster) -> None:
    frontend = _url(cluster, "query-frontend-0")
    distributors = [_url(cluster, "distributor-0"), _url(cluster, "distributor-1")]
    per_round, rounds = 4, 4
    # Inside the heads' appendable window (newest sample - 1h): other tests pushed "now".
    start_ms = (int(time.time() * 1000) - 1_800_000) // STEP_MS * STEP_MS
    end_ms = start_ms + rounds * per_round * STEP_MS

    assert _push(distributors[0], _body(0, start_ms, per_round)) == 200
    cluster.kill("ingester-zone-a-1", signal.SIGKILL)
    for r in range(1, rounds):  # writes keep being acknowledged
        assert _push(distributors[r % 2], _body(r, start_ms, per_round)) == 200
    expected = SERIES * rounds * per_round
    assert _wait_count(frontend, end_ms, expected) == expected  # zone-b answers

    cluster.restart("ingester-zone-a-1")
    cluster.kill("ingester-zone-b-1", signal.SIGKILL)  # now only zone-a-1 has partition 1
    try:
        assert _wait_count(frontend, end_ms, expected) == expected
    finally:
        cluster.restart("ingester-zone-b-1")


def _series_count(frontend: str, metric: str, strong: bool) -> int:
    headers = {"X-Read-Consistency": "strong"} if strong else {}
    r = httpx.get(f"{frontend}/prometheus/api/v1/query", params={"query": metric},
                  headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return len(r.json()["data"]["result"])


def _one_sample_body(metric: str, n: int) -> bytes:
    now = int(time.time() * 1000)
    labels = [Labels({"__name__": metric, "i": str(i)}.items()) for i in range(n)]
    idx = np.arange(n, dtype=np.int32)
    batch = SampleBatch(labels=labels, series_index=idx,
                        timestamps=np.full(n, now, dtype=np.int64), values=np.ones(n))
    return bytes(snappy_compress(encode_write_request(batch)))


def test_strong_read_after_acknowledged_push_sees_it(cluster: LocalCluster) -> None:
    frontend = _url(cluster, "query-frontend-0")
    for round_ in range(3):  # every partition, through both distributors
        metric = f"strong_read_{round_}"
        body = _one_sample_body(metric, 30)
        assert _push(_url(cluster, f"distributor-{round_ % 2}"), body) == 200
        assert _series_count(frontend, metric, strong=True) == 30


def test_restarted_distributor_querier_store_gateway_serve_again(cluster: LocalCluster) -> None:
    frontend = _url(cluster, "query-frontend-0")
    assert _url(cluster, "querier-1") in " ".join(cluster.process("query-frontend-0").argv)
    assert _push(_url(cluster, "distributor-0"), _one_sample_body("querier_failover", 30)) == 200
    restarted = []
    for name in ("distributor-1", "querier-0", "store-gateway-0"):
        cluster.kill(name, signal.SIGKILL)
        if name == "querier-0":  # the frontend fails over to querier-1 meanwhile
            for _ in range(4):
                assert _series_count(frontend, "querier_failover", strong=True) == 30
        restarted.append(cluster.restart(name, wait_ready=False))
    cluster.wait_ready(restarted, cluster.ready_timeout_s)  # all three start side by side
    assert _push(_url(cluster, "distributor-1"), _one_sample_body("after_restart", 10)) == 200
    assert _series_count(frontend, "after_restart", strong=True) == 10


BLOCK_MS = 2 * 3_600_000
N_BLOCKS = 24


def _old_blocks(root: Path) -> tuple[Path, int, int]:
    """24 two-hour blocks ending a day ago: only store-gateways hold data that old."""
    end = (int(time.time() * 1000) - 24 * 3_600_000) // BLOCK_MS * BLOCK_MS
    start = end - N_BLOCKS * BLOCK_MS
    labels = sorted(Labels({"__name__": "sharded_blocks", "s": str(i)}.items())
                    for i in range(SERIES // 6))
    samples = 0
    for k in range(N_BLOCKS):
        ts = np.arange(start + k * BLOCK_MS, start + (k + 1) * BLOCK_MS, 600_000, dtype=np.int64)
        write_block(root, [(lb, ts, ts.astype(np.float64)) for lb in labels])
        samples += len(labels) * len(ts)
    return root, end, samples


def _loaded_blocks(cluster: LocalCluster, name: str) -> set[str]:
    r = httpx.get(f"{_url(cluster, name)}/store-gateway/tenant/anonymous/blocks", timeout=10)
    assert r.status_code == 200, r.text
    return {b["block_id"] for b in r.json()["blocks"]}


def _refetches(url: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "cortex_querier_storegateway_refetches_per_query_sum")


def test_blocks_are_sharded_over_store_gateways_and_survive_one_sigkill(
        cluster: LocalCluster, tmp_path: Path) -> None:
    """RF 2 over 3 gateways: each loads a strict subset, every block twice; the query
    (older than -querier.query-ingesters-within, so store-gateways only) stays complete
    with one gateway SIGKILLed, its blocks answered by their other owner."""
    frontend = _url(cluster, "query-frontend-0")
    gateways = [n for n, p in cluster.processes.items() if p.target == "store-gateway"]
    assert len(gateways) == 3
    blocks_dir, end_ms, samples = _old_blocks(tmp_path / "blocks")
    ids = {p.name for p in blocks_dir.iterdir()}
    backfill = subprocess.run(
        [sys.executable, "-m", "tidewell", "tool", "backfill", "--tenant", "anonymous",
         f"-config.file={cluster.config_file}", str(blocks_dir)],
        capture_output=True, text=True, timeout=120, check=False)
    assert backfill.returncode == 0, backfill.stdout + backfill.stderr

    deadline = time.monotonic() + 30  # gateways sync every 2s
    while True:
        loaded = {name: _loaded_blocks(cluster, name) & ids for name in gateways}
        if sum(map(len, loaded.values())) == 2 * N_BLOCKS or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert set().union(*loaded.values()) == ids
    assert all(0 < len(got) < N_BLOCKS for got in loaded.values()), {
        n: len(got) for n, got in loaded.items()}
    assert all(sum(b in got for got in loaded.values()) == 2 for b in ids)

    def count() -> int:
        r = httpx.get(f"{frontend}/prometheus/api/v1/query", timeout=30, params={
            "query": f"sum(count_over_time(sharded_blocks[{N_BLOCKS * 2 + 1}h]))",
            "time": end_ms / 1000})
        assert r.status_code == 200, r.text
        result = r.json()["data"]["result"]
        return int(float(result[0]["value"][1])) if result else 0

    deadline = time.monotonic() + 30  # queriers re-read the bucket index every 10s
    while (got := count()) != samples and time.monotonic() < deadline:
        time.sleep(0.5)
    assert got == samples

    victim = max(gateways, key=lambda n: len(loaded[n]))
    queriers = [p.url for p in cluster.processes.values() if p.target == "querier"]
    before = sum(map(_refetches, queriers))
    cluster.kill(victim, signal.SIGKILL)
    try:
        for _ in range(4):  # its blocks are picked first about half the time, then retried
            assert count() == samples
        assert sum(map(_refetches, queriers)) > before
    finally:
        cluster.restart(victim)


def test_range_queries_are_cached_in_memcached(cluster: LocalCluster) -> None:
    frontend = _url(cluster, "query-frontend-0")
    assert _push(_url(cluster, "distributor-0"), _one_sample_body("cached_metric", 5)) == 200
    end = (int(time.time()) - 700) // 60 * 60  # old enough to be cacheable
    params = {"query": "count(cached_metric) or vector(0)", "start": end - 3600, "end": end,
              "step": 60}
    before = _memcached_stats(cluster)["cmd_set"]
    for _ in range(2):
        r = httpx.get(f"{frontend}/prometheus/api/v1/query_range", params=params, timeout=30)
        assert r.status_code == 200, r.text
    stats = _memcached_stats(cluster)
    assert stats["cmd_set"] > before and stats["get_hits"] > 0


def _memcached_stats(cluster: LocalCluster) -> dict[str, int]:
    with socket.create_connection(("127.0.0.1", cluster.process("memcached").port), 5) as s:
        s.sendall(b"stats\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            data += s.recv(65536)
    out = {}
    for line in data.decode().splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "STAT" and parts[2].isdigit():
            out[parts[1]] = int(parts[2])
    return out


def _memory_series(url: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(sample.value for family in text_string_to_metric_families(text)
               if family.name == "cortex_ingester_memory_series" for sample in family.samples)


def test_scale_out_partition_3_becomes_active_and_takes_writes(cluster: LocalCluster) -> None:
    for zone in ("zone-a", "zone-b"):
        cluster.add_process(f"ingester-{zone}-3", "ingester", zone, wait_ready=False)
    cluster.wait_ready([cluster.process("ingester-zone-a-3"),
                        cluster.process("ingester-zone-b-3")], 60)
    cluster.wait_partitions_active([3], 60)
    assert _push(_url(cluster, "distributor-0"), _one_sample_body("scaled_out", 200)) == 200
    assert _series_count(_url(cluster, "query-frontend-0"), "scaled_out", strong=True) == 200
    assert _memory_series(_url(cluster, "ingester-zone-a-3")) > 0
    assert _memory_series(_url(cluster, "ingester-zone-b-3")) > 0
    state = json.loads(cluster.state_file.read_text())
    assert "ingester-zone-a-3" in {p["name"] for p in state["processes"]}


def test_scale_in_partition_3_goes_inactive_stops_writes_keeps_data(
    cluster: LocalCluster,
) -> None:
    """prepare-partition-downscale: INACTIVE, no new writes land there, old data still served."""
    for zone in ("zone-a", "zone-b"):
        url = _url(cluster, f"ingester-{zone}-3")
        r = httpx.post(f"{url}/ingester/prepare-partition-downscale", timeout=10)
        assert r.status_code == 200, r.text
        assert r.json()["timestamp"] > 0
    deadline = time.monotonic() + 30
    while cluster.partition_states().get(3) != "INACTIVE":
        assert time.monotonic() < deadline, cluster.partition_states()
        time.sleep(0.2)
    time.sleep(1.0)  # distributors' ring watchers see the change
    before = _memory_series(_url(cluster, "ingester-zone-a-3"))
    assert _push(_url(cluster, "distributor-0"), _one_sample_body("scaled_in", 200)) == 200
    assert _series_count(_url(cluster, "query-frontend-0"), "scaled_in", strong=True) == 200
    assert _memory_series(_url(cluster, "ingester-zone-a-3")) == before
    assert _series_count(_url(cluster, "query-frontend-0"), "scaled_out", strong=True) == 200


def test_broker_frozen_for_10s_then_everything_recovers(cluster: LocalCluster) -> None:
    """SIGSTOP the broker: pushes fail or wait, none is lost once acknowledged; then recovery."""
    frontend, distributor = _url(cluster, "query-frontend-0"), _url(cluster, "distributor-0")
    assert _push(distributor, _one_sample_body("before_pause", 20)) == 200
    cluster.kill("kafka", signal.SIGSTOP)
    paused = time.monotonic()
    try:
        try:
            during = _push(distributor, _one_sample_body("during_pause", 20))
        except httpx.TimeoutException:
            during = 0
        assert during != 200 or time.monotonic() - paused >= 10  # no ack without the log
        time.sleep(max(0.0, 10 - (time.monotonic() - paused)))
    finally:
        cluster.kill("kafka", signal.SIGCONT)
    deadline = time.monotonic() + 60
    while (status := _push(distributor, _one_sample_body("after_pause", 20))) != 200:
        assert time.monotonic() < deadline, f"pushes still fail after the pause: {status}"
        time.sleep(1)
    for metric in ("before_pause", "after_pause", *(["during_pause"] if during == 200 else [])):
        assert _series_count(frontend, metric, strong=True) == 20, metric


def _consumed_offsets(cluster: LocalCluster) -> dict[int, float]:
    """Partition → highest ``cortex_ingest_storage_reader_last_consumed_offset`` of its owners."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[int, float] = {}
    for p in cluster.processes.values():
        if p.target != "ingester" or not p.alive():
            continue
        text = httpx.get(f"{p.url}/metrics", timeout=10).text
        for family in text_string_to_metric_families(text):
            if family.name == "cortex_ingest_storage_reader_last_consumed_offset":
                for s in family.samples:
                    part = int(s.labels["partition"])
                    out[part] = max(out.get(part, -1.0), s.value)
    return out


def _end_offsets(cluster: LocalCluster) -> dict[int, int]:
    """Partition → the broker's high watermark of the ingest topic, asked directly."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": cluster.process("kafka").address,
                  "group.id": "e2e-watermarks", "enable.auto.commit": False})
    try:
        return {p: c.get_watermark_offsets(TopicPartition("ingest", p), timeout=10)[1]
                for p in range(cluster.layout.partitions)}
    finally:
        c.close()


def _sample_count(frontend: str, metric: str) -> int:
    r = httpx.get(f"{frontend}/prometheus/api/v1/query", timeout=30, headers={
        "X-Read-Consistency": "strong"}, params={"query": f"sum(count_over_time({metric}[10m]))"})
    assert r.status_code == 200, r.text
    result = r.json()["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def test_broker_sigkilled_for_10s_restarts_and_keeps_acknowledged_data(
        cluster: LocalCluster) -> None:
    """Apache Kafka's log is on local disk: kill -9 it, keep it down 10 s, restart, lose nothing."""
    frontend, distributor = _url(cluster, "query-frontend-0"), _url(cluster, "distributor-1")
    assert cluster.broker == "kafka" and cluster.broker_log().startswith("file://")
    acked = {}
    for metric in ("before_kill_a", "before_kill_b"):
        assert _push(distributor, _one_sample_body(metric, 30)) == 200
        acked[metric] = 30
    assert _sample_count(frontend, "before_kill_a") == 30  # consumed before the kill
    offsets_before = _consumed_offsets(cluster)
    log_end_before = _end_offsets(cluster)
    assert sum(log_end_before.values()) > 0, log_end_before

    cluster.kill("kafka", signal.SIGKILL)
    killed = time.monotonic()
    during: list[int] = []
    while time.monotonic() - killed < 10:  # every push in the outage fails with 5xx
        during.append(_push(distributor, _one_sample_body("during_kill", 10)))
    assert during and all(500 <= s < 600 for s in during), during
    cluster.restart("kafka")
    log_end_after = _end_offsets(cluster)  # the log came back from disk, not empty
    assert all(log_end_after[p] >= end for p, end in log_end_before.items()), (
        log_end_before, log_end_after)

    deadline = time.monotonic() + 60
    body = _one_sample_body("after_broker_restart", 30)  # a retry resends the same samples
    while (status := _push(distributor, body)) != 200:
        assert time.monotonic() < deadline, f"pushes still fail after the restart: {status}"
        time.sleep(0.5)
    acked["after_broker_restart"] = 30
    for metric, n in acked.items():
        assert _sample_count(frontend, metric) == n, metric
    offsets_after = _consumed_offsets(cluster)
    assert any(offsets_after.get(p, -1) > off for p, off in offsets_before.items()), (
        offsets_before, offsets_after)  # ingesters consume again after the restart
