"""The peers scripts/peers.sh installs are the pinned versions and work.

Each is used here the way the tests and benchmarks use it, so a broken or
mis-pinned install fails here first, with the peer named.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import httpx

from tests.support.peers import (
    alertmanager_binary,
    helm_binary,
    prometheus3_binary,
    promtool3_binary,
    victoria_metrics_binary,
)
from tests.support.ports import free_port

SCRIPT = Path(__file__).parents[2] / "scripts" / "peers.sh"


def _pinned(name: str) -> str:
    m = re.search(rf"^{name}=(\S+)", SCRIPT.read_text(), re.MULTILINE)
    assert m, name
    return m.group(1)


def _version(argv: list[str]) -> str:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
    return out.stdout + out.stderr


def test_prometheus_and_promtool_are_the_pinned_3x() -> None:
    release = _pinned("PROMETHEUS_RELEASE")
    assert release.startswith("3.")
    for binary in (prometheus3_binary(), promtool3_binary()):
        assert f"version {release} " in _version([binary, "--version"])


def test_helm_is_the_pinned_4x() -> None:
    pinned = _pinned("HELM_VERSION")
    assert pinned.startswith("v4.")
    assert _version([helm_binary(), "version", "--short"]).strip() == pinned


def test_victoria_metrics_stores_and_answers(tmp_path: Path) -> None:
    assert _version([victoria_metrics_binary(), "--version"]).strip() == (
        f"victoria-metrics-{_pinned('VM_VERSION')}")
    port = free_port()
    proc = subprocess.Popen(
        [victoria_metrics_binary(), f"-httpListenAddr=127.0.0.1:{port}",
         f"-storageDataPath={tmp_path / 'vm'}", "-search.latencyOffset=0s"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).text == "OK":
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "VictoriaMetrics not up"
            time.sleep(0.1)
        now = int(time.time())
        r = httpx.post(f"{url}/api/v1/import/prometheus",
                       content=f'peer_check{{a="1"}} 42 {now * 1000}\n', timeout=10)
        assert r.status_code == 204, r.text
        deadline = time.monotonic() + 30
        while True:  # VictoriaMetrics makes new data searchable within a second or so
            httpx.get(f"{url}/internal/force_flush", timeout=10)
            got = httpx.get(f"{url}/api/v1/query", timeout=10,
                            params={"query": "peer_check", "time": str(now)}).json()
            if got["data"]["result"]:
                break
            assert time.monotonic() < deadline, got
            time.sleep(0.3)
        assert got["data"]["result"][0]["value"][1] == "42"
    finally:
        proc.terminate()
        proc.wait(30)


def test_alertmanager_takes_an_alert_over_its_v2_api(tmp_path: Path) -> None:
    port, cluster_port = free_port(), free_port()
    (tmp_path / "am.yml").write_text(
        "route: {receiver: blackhole}\nreceivers: [{name: blackhole}]\n")
    proc = subprocess.Popen(
        [alertmanager_binary(), f"--config.file={tmp_path / 'am.yml'}",
         f"--storage.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
         f"--cluster.listen-address=127.0.0.1:{cluster_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/api/v2"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/status", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "Alertmanager not up"
            time.sleep(0.1)
        r = httpx.post(f"{url}/alerts", json=[{"labels": {"alertname": "PeerCheck"}}], timeout=10)
        assert r.status_code == 200, r.text
        alerts = httpx.get(f"{url}/alerts", timeout=10).json()
        assert [a["labels"]["alertname"] for a in alerts] == ["PeerCheck"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
