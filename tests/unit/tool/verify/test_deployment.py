from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tidewell.tool.verify.deployment import (
    DeploymentError,
    from_cluster,
    from_flags,
    resolve_urls,
)
from tidewell.tool.verify.main import main, run_checks


def test_urls_plain_and_comma_separated() -> None:
    assert resolve_urls(["http://d0:8080/", "d1:8080,d2:8080"]) == {
        "http://d0:8080/": "http://d0:8080", "d1:8080": "http://d1:8080",
        "d2:8080": "http://d2:8080"}


def test_dns_expands_to_every_address() -> None:
    got = resolve_urls(["dns+localhost:8080"])
    assert got and all(u.endswith(":8080") for u in got.values())
    assert "localhost/127.0.0.1" in got


def test_dns_needs_a_port() -> None:
    with pytest.raises(DeploymentError, match="dns\\+HOST:PORT"):
        resolve_urls(["dns+localhost"])


def test_cluster_json_gives_config_and_distributors(tmp_path: Path) -> None:
    cfg = tmp_path / "tidewell.yaml"
    cfg.write_text("ingest_storage:\n  kafka:\n    address: k:9092\n    topic: t\n")
    (tmp_path / "cluster.json").write_text(json.dumps({"config_file": str(cfg), "processes": [
        {"name": "distributor-0", "target": "distributor", "url": "http://127.0.0.1:1"},
        {"name": "ingester-zone-a-0", "target": "ingester", "url": "http://127.0.0.1:2"}]}))
    d = from_cluster(str(tmp_path), ["-ingest-storage.kafka.topic=other"], [])
    assert d.distributors == {"distributor-0": "http://127.0.0.1:1"}
    assert d.config.ingest_storage.kafka.address == "k:9092"
    assert d.config.ingest_storage.kafka.topic == "other"  # flags win over the file


def test_bad_config_is_a_deployment_error(tmp_path: Path) -> None:
    cfg = tmp_path / "tidewell.yaml"
    cfg.write_text("no_such_block:\n  x: 1\n")
    (tmp_path / "cluster.json").write_text(json.dumps({"config_file": str(cfg)}))
    with pytest.raises(DeploymentError, match="no_such_block"):
        from_cluster(str(tmp_path / "cluster.json"), [], [])


def test_single_process_config_runs_what_it_can(tmp_path: Path) -> None:
    """Embedded log, filesystem bucket, no distributor named: one line per check, no crash."""
    d = from_flags([f"-common.storage.path={tmp_path}"], [])
    results = asyncio.run(run_checks(d, {"produce", "consume", "blocks"}, 0.1, 10, 3600, 900))
    got = {(r.check, r.subject): (r.status.value, r.reason) for r in results}
    assert got[("produce", "distributors")][0] == "FAIL"
    assert got[("consume", "ingest log")][0] == "WARN"
    assert got[("blocks", "bucket")] == ("WARN", "no tenant has blocks in the bucket yet")


@pytest.mark.parametrize("flag", ["-h", "-help", "--help"])
def test_help_in_every_spelling(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([flag])
    assert exc.value.code == 0
    assert "--block-grace" in capsys.readouterr().out


def test_window_shorter_than_two_commit_intervals_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([f"-common.storage.path={tmp_path}",
                 "-ingest-storage.kafka.consumer-group-offset-commit-interval=5s",
                 "--window", "8s"])
    assert code == 2
    assert "a healthy ingester could look stuck" in capsys.readouterr().err
