"""The local-cluster launcher itself: dependencies, readiness, cluster.json, kill/restart, stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.cluster.conftest import new_cluster
from tidewell.config import load
from tidewell.tool.localcluster.supervisor import ClusterError, LocalCluster, down

pytestmark = pytest.mark.timeout(120)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _all_pids(state: dict) -> list[int]:
    procs = [*state["processes"], *state["deps"].values()]
    return [p["pid"] for p in procs if p["pid"]]


def test_dependencies_answer_and_cluster_json_says_where(small_cluster: LocalCluster) -> None:
    state = json.loads(small_cluster.state_file.read_text())
    assert set(state["deps"]) == {"kafka", "etcd", "s3", "memcached"}
    assert {p["name"]: p["target"] for p in state["processes"]} == {
        "ingester-zone-a-0": "ingester", "distributor-0": "distributor"}
    for p in state["processes"]:
        assert _alive(p["pid"]) and Path(p["log"]).exists()
        assert httpx.get(f"{p['url']}/ready", timeout=5).status_code == 200
    deps = state["deps"]
    health = httpx.get(f"http://{deps['etcd']['endpoints'][0]}/health", timeout=5)
    assert health.json()["health"] == "true"
    bucket = httpx.get(f"http://{deps['s3']['endpoint']}/{deps['s3']['bucket']}", timeout=5)
    assert bucket.status_code == 200
    with socket.create_connection(("127.0.0.1", deps["memcached"]["port"]), 5) as s:
        s.sendall(b"version\r\n")
        assert s.recv(64).startswith(b"VERSION")
    socket.create_connection(("127.0.0.1", deps["kafka"]["port"]), 5).close()
    assert deps["kafka"]["broker"] == small_cluster.broker
    if small_cluster.broker == "tansu":  # the broker's log is durable, in S3
        assert deps["kafka"]["storage"] == "s3://tidewell-kafka/"
        log = httpx.get(f"http://{deps['s3']['endpoint']}/tidewell-kafka", timeout=5)
        assert log.status_code == 200 and "<Key>" in log.text  # tansu keeps its state there
    else:  # Apache Kafka: on local disk, the ingest topic's partition directory in it
        log_dir = Path(deps["kafka"]["storage"].removeprefix("file://"))
        assert (log_dir / "meta.properties").exists()
        assert (log_dir / "ingest-0").is_dir()


def test_generated_config_is_what_tidewell_loads(small_cluster: LocalCluster) -> None:
    config = load([f"-config.file={small_cluster.config_file}"]).config
    assert config.ingest_storage.kafka.address == small_cluster.deps["kafka"].address
    assert config.blocks_storage.backend == "s3"
    assert config.blocks_storage.s3.endpoint == small_cluster.deps["s3"].address
    assert config.frontend.results_cache.memcached.addresses == [
        small_cluster.deps["memcached"].address]


def test_kill_and_restart_keep_name_port_and_update_state(small_cluster: LocalCluster) -> None:
    p = small_cluster.process("distributor-0")
    old_pid, port = p.pid, p.port
    small_cluster.kill("distributor-0", signal.SIGKILL)
    assert not p.alive() and p.proc is not None and p.proc.returncode == -signal.SIGKILL
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{p.url}/ready", timeout=2)
    small_cluster.restart("distributor-0")
    assert p.pid != old_pid and p.port == port
    assert httpx.get(f"{p.url}/ready", timeout=5).status_code == 200
    recorded = {r["name"]: r for r in json.loads(small_cluster.state_file.read_text())["processes"]}
    assert recorded["distributor-0"]["pid"] == p.pid
    with pytest.raises(KeyError, match="no process"):
        small_cluster.process("querier-7")


def test_stop_is_graceful_and_leaves_no_process(tmp_path: Path) -> None:
    cluster = new_cluster(tmp_path, broker="kafka")  # Apache Kafka, too, stops on SIGTERM
    cluster.start()
    pids = _all_pids(json.loads(cluster.state_file.read_text()))
    assert len(pids) == 6
    cluster.kill("distributor-0", signal.SIGSTOP)  # a frozen process is woken to stop
    killed = cluster.stop()
    assert killed == []  # every Tidewell process exited on SIGTERM in time
    assert not [pid for pid in pids if _alive(pid)]
    assert "shutdown complete" in cluster.process("ingester-zone-a-0").log.read_text()
    kafka = cluster.process("kafka").proc
    assert kafka is not None and kafka.returncode == 143  # the JVM ran its shutdown hooks
    assert json.loads(cluster.state_file.read_text())["stopped"] is True


def test_a_process_that_fails_is_named_with_its_log_and_all_is_stopped(tmp_path: Path) -> None:
    cluster = new_cluster(tmp_path, broker="tansu",
                          extra_args={"distributor": ["-querier.timeout=soon"]})
    with pytest.raises(ClusterError) as err:
        cluster.start()
    message = str(err.value)
    assert "exited during startup: distributor-0" in message
    assert "-querier.timeout" in message  # the tail of its log says why
    assert not [p.name for p in [*cluster.deps.values(), *cluster.processes.values()]
                if p.alive()]


def test_up_then_down_from_the_command_line(tmp_path: Path) -> None:
    root = tmp_path / "c"
    cmd = [sys.executable, "-m", "tidewell", "tool", "local-cluster"]
    up = subprocess.Popen(
        [*cmd, "up", "--dir", str(root), "--base-port", "0", "--zones", "1", "--partitions", "1",
         "--distributors", "1", "--queriers", "0", "--store-gateways", "0",
         "--query-frontends", "0", "--compactors", "0", "--ready-timeout", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert up.stdout is not None
        lines = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = up.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("ready in"):
                break
        out = "".join(lines)
        assert "ready in" in out, out
        assert "distributor-0" in out and "memcached" in out  # the table
        state = json.loads((root / "cluster.json").read_text())
        pids = _all_pids(state)
        assert state["supervisor"]["pid"] == up.pid and len(pids) == 6
        done = subprocess.run([*cmd, "down", "--dir", str(root)], capture_output=True,
                              text=True, timeout=90)
        assert done.returncode == 0, done.stderr
        assert up.wait(30) == 0
        assert not [pid for pid in pids if _alive(pid)]
    finally:
        if (root / "cluster.json").exists():
            down(root, timeout_s=10)  # never leave children behind, whatever failed
        if up.poll() is None:
            os.kill(up.pid, signal.SIGKILL)
            up.wait()
