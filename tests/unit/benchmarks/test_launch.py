"""Process accounting and on-disk measurements used by the scenarios (no network)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest

from benchmarks.launch import Prometheus3Server, Server, dir_size, ensure_peers, peer_binary
from benchmarks.scenarios.common import Context, NotAvailable, make_server, started
from benchmarks.scenarios.storage import find_blocks

pytestmark = pytest.mark.serial  # processes must start within a time bound: alone on its core


class _Sleeper(Server):
    name = "sleeper"

    def command(self) -> list[str]:
        # a child that allocates ~50 MiB and spawns a grandchild, then waits
        code = (
            "import subprocess, sys, time; b = bytearray(50 * 2**20); "
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); "
            "print('up', flush=True); time.sleep(30)"
        )
        return [sys.executable, "-c", code]


def _wait_for_log(srv: Server, text: str) -> None:
    import time

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if srv.log_path.exists() and text in srv.log_path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never logged: {srv.log_tail()}")


def test_resources_are_summed_over_the_process_tree(tmp_path: Path) -> None:
    srv = _Sleeper(tmp_path / "data", cores="0")
    srv.start()
    try:
        _wait_for_log(srv, "up")
        rss = srv.rss_bytes()
        assert rss > 50 * 2**20  # the 50 MiB buffer plus two interpreters
        assert srv.hwm_bytes() >= rss
        assert srv.cpu_seconds() >= 0.0
    finally:
        took = srv.stop(timeout_s=5)
    assert srv.proc is not None and srv.proc.poll() is not None
    assert took < 10


def test_find_blocks_counts_each_ulid_once(tmp_path: Path) -> None:
    ulid = "01HQZX4Z5C3T7J0000000000AA"
    for where in ("local", "bucket/anonymous"):
        block = tmp_path / where / ulid
        (block / "chunks").mkdir(parents=True)
        (block / "chunks" / "000001").write_bytes(b"x" * 1000)
        (block / "index").write_bytes(b"y" * 500)
        (block / "meta.json").write_text(json.dumps({"ulid": ulid, "stats": {"numSamples": 750}}))
    empty = tmp_path / "local" / "01HQZX4Z5C3T7J0000000000BB"
    empty.mkdir()
    (empty / "meta.json").write_text(json.dumps({"stats": {"numSamples": 0}}))
    blocks = find_blocks(tmp_path)
    assert list(blocks) == [ulid]
    size, samples = blocks[ulid]
    assert samples == 750
    assert size == 1500 + len((tmp_path / "local" / ulid / "meta.json").read_bytes())
    assert dir_size(tmp_path / "missing") == 0


def test_kill_is_a_crash_and_the_server_starts_again(tmp_path: Path) -> None:
    srv = _Sleeper(tmp_path / "data", cores="0")
    srv.start()
    try:
        _wait_for_log(srv, "up")
        first = srv.pid
        srv.kill()
        assert srv.proc is not None and srv.proc.returncode == -9
        srv.start()  # same server, same data dir, as the hour scenario restarts it
        assert srv.pid != first and srv.proc.poll() is None
    finally:
        srv.stop(timeout_s=5)


def test_missing_peer_binary_is_a_reason_not_a_crash(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TIDEWELL_PEERS_DIR", str(tmp_path / "peers"))
    assert peer_binary("prometheus") == str(tmp_path / "peers" / "bin" / "prometheus")
    monkeypatch.setattr(Prometheus3Server, "binary", peer_binary("prometheus"))
    with pytest.raises(NotAvailable, match=r"peers/bin/prometheus.*scripts/peers\.sh"), \
            started(Prometheus3Server(tmp_path / "data")):
        pass


def test_installed_peers_start_pinned_and_answer_ready(tmp_path: Path) -> None:
    ctx = Context(workdir=tmp_path)
    for system in ("prometheus3", "victoriametrics"):
        with started(make_server(system, ctx, "launch"), 60.0) as srv:
            assert srv.env()["GOMAXPROCS"] == "1"
            assert httpx.get(srv.base_url + srv.ready_path, timeout=5).status_code == 200
            resp = httpx.get(srv.api_url("query"), params={"query": "1+1"}, timeout=5)
            result = resp.json()["data"]["result"]  # a scalar; VictoriaMetrics: a vector
            assert (result if system == "prometheus3" else result[0]["value"])[1] == "2"


def test_harness_installs_peers_through_the_setup_script() -> None:
    # the cache is filled by make test; a second call only confirms, quickly
    assert ensure_peers(["tidewell", "prometheus3", "victoriametrics"]) is None
    assert ensure_peers(["tidewell", "prometheus"]) is None  # nothing to install
