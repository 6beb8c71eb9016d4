"""The command as a user runs it: bad input stops startup cleanly, signals stop it cleanly."""

from __future__ import annotations

import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from tests.e2e.conftest import TidewellProcess, tidewell_command


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*tidewell_command(), *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-bad-flag"], "error: flag provided but not defined: -bad-flag"),
        (["-target=nonsense"], "error: invalid value 'nonsense' for flag -target: allowed values"),
        (
            ["-log.level=loud"],
            "error: invalid value 'loud' for flag -log.level: allowed values are debug, info",
        ),
    ],
)
def test_bad_flags_exit_nonzero_with_one_line(args: list[str], message: str) -> None:
    result = run(args)
    assert result.returncode != 0
    assert result.stderr.strip().startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_yaml_type_error_exits_nonzero_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("server:\n  http_listen_port: eighty\n")
    result = run([f"-config.file={config}"])
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "error: invalid value 'eighty' for config key 'server.http_listen_port': expected int"
    )


def test_version_and_help() -> None:
    assert run(["-version"]).stdout.startswith("tidewell, version ")
    help_out = run(["-help"]).stdout
    assert "-server.http-listen-port" in help_out
    assert "-auth.multitenancy-enabled" in help_out


def test_ready_config_and_graceful_sigterm(tidewell: TidewellProcess) -> None:
    tidewell.args = ["-log.format=logfmt"]
    tidewell.start()
    assert httpx.get(f"{tidewell.url}/ready").status_code == 200
    services = httpx.get(f"{tidewell.url}/services", headers={"accept": "application/json"})
    assert set(services.json().values()) == {"Running"}
    effective = yaml.safe_load(httpx.get(f"{tidewell.url}/config").text)
    assert effective["server"]["http_listen_port"] == tidewell.port
    diff = yaml.safe_load(httpx.get(f"{tidewell.url}/config", params={"mode": "diff"}).text)
    assert "log_level" not in diff.get("server", {})
    flags = httpx.get(f"{tidewell.url}/api/v1/status/flags").json()
    assert flags["data"]["server.http-listen-port"] == str(tidewell.port)
    build = httpx.get(f"{tidewell.url}/prometheus/api/v1/status/buildinfo").json()
    assert build["status"] == "success" and build["data"]["version"]
    metrics = httpx.get(f"{tidewell.url}/metrics").text
    assert "# TYPE python_gc_objects_collected_total counter" in metrics
    assert tidewell.stop(signal.SIGTERM) == 0
    logs = tidewell.logs()
    assert 'level=info component=main msg="shutdown complete"' in logs
    for line in logs.splitlines():
        assert line.startswith("ts=") and " level=" in line and " component=" in line


def test_port_in_use_exits_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run([f"-server.http-listen-port={port}", "-server.http-listen-address=127.0.0.1",
                      f"-common.storage.path={tmp_path / 'data'}"])
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "level=error" in line]
    assert len(errors) == 1, result.stderr
    assert f"cannot listen on 127.0.0.1:{port}: address already in use" in errors[0]
