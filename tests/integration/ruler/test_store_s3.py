"""Rule groups in a real S3 server (moto) through ``-ruler-storage.*``, and the local backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from moto.server import ThreadedMotoServer

from tidewell.config import load
from tidewell.objstore.factory import new_bucket
from tidewell.ruler.config import InvalidRulerConfigError, RulerStorageConfig
from tidewell.ruler.rulefmt import parse_group
from tidewell.ruler.store import BucketRuleStore, LocalRuleStore, encode_name
from tidewell.util.config_tree import ConfigError
from tidewell.util.ports import free_port

GROUP = parse_group("name: g/1\nrules:\n  - record: r\n    expr: sum(up)\n")


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    httpx.put(f"http://127.0.0.1:{port}/rules-bucket", timeout=10).raise_for_status()
    yield f"127.0.0.1:{port}"
    server.stop()


def test_groups_round_trip_through_s3_flags(s3_endpoint: str, tmp_path: Path) -> None:
    config = load([f"-common.storage.path={tmp_path}", "-ruler-storage.backend=s3",
                   f"-ruler-storage.s3.endpoint={s3_endpoint}",
                   "-ruler-storage.s3.bucket-name=rules-bucket", "-ruler-storage.s3.insecure",
                   "-ruler-storage.s3.access-key-id=a", "-ruler-storage.s3.secret-access-key=b"]
                  ).config
    bucket = new_bucket(config.ruler_storage, tmp_path)
    store = BucketRuleStore(bucket)
    store.set_group("t1", "ns/a", GROUP)
    store.set_group("t2", "other", GROUP)
    assert bucket.exists(f"rules/t1/{encode_name('ns/a')}/{encode_name('g/1')}")
    assert store.list_tenants() == ["t1", "t2"]
    assert store.list_groups("t1") == {"ns/a": [GROUP]}
    assert store.get_group("t1", "ns/a", "g/1") == GROUP
    assert store.delete_namespace("t1", "ns/a") == 1
    assert store.list_groups("t1") == {}


def test_local_backend_reads_rule_files_and_is_read_only(tmp_path: Path) -> None:
    (tmp_path / "t1").mkdir()
    (tmp_path / "t1" / "rules.yml").write_text(
        "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: up\n")
    (tmp_path / "t1" / "broken.yml").write_text("groups: [\n")
    store = LocalRuleStore(tmp_path)
    assert store.list_tenants() == ["t1"]
    groups = store.list_groups("t1")
    assert list(groups) == ["rules.yml"] and groups["rules.yml"][0].rules[0].record == "r"
    assert store.read_only


def test_local_backend_needs_its_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidRulerConfigError, match=r"-ruler-storage\.local\.directory"):
        RulerStorageConfig(backend="local").validate()
    with pytest.raises(ConfigError, match=r"-ruler-storage\.local\.directory"):
        load([f"-common.storage.path={tmp_path}", "-ruler-storage.backend=local"])
