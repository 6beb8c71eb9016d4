"""The Kafka node's JVM maps its class archive when scripts/peers.sh recorded one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidewell.tool.localcluster.kafka_broker import BROKER, class_archive, java_command


@pytest.fixture
def peers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TIDEWELL_PEERS_DIR", str(tmp_path))
    libs = tmp_path / "kafka" / "libs"
    libs.mkdir(parents=True)
    (libs / "kafka_2.13-4.4.0.jar").touch()
    return tmp_path


def test_archive_is_used_once_recorded(peers: Path, tmp_path: Path) -> None:
    assert not any(a.startswith("-XX:SharedArchiveFile") for a in java_command(tmp_path, BROKER))
    archive = class_archive(BROKER)
    assert archive == peers / "kafka" / "cds" / "kafka.Kafka.jsa"
    archive.parent.mkdir(parents=True)
    archive.touch()
    argv = java_command(tmp_path, BROKER, "server.properties")
    assert f"-XX:SharedArchiveFile={archive}" in argv
    assert "-Xshare:auto" in argv  # a stale archive is skipped, not fatal
    assert argv[-2:] == [BROKER, "server.properties"]


def test_recording_replaces_the_archive_flag(peers: Path, tmp_path: Path) -> None:
    class_archive(BROKER).parent.mkdir(parents=True)
    class_archive(BROKER).touch()
    out = tmp_path / "new.jsa"
    argv = java_command(tmp_path, BROKER, record_to=out)
    assert f"-XX:ArchiveClassesAtExit={out}" in argv
    assert not any(a.startswith("-XX:SharedArchiveFile") for a in argv)
