"""The bucket contract on every backend that needs no server: memory, filesystem,
and the decorators (tenant view, storage prefix, metrics) stacked on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tidewell.objstore import (
    BucketConfig,
    FilesystemBucket,
    InstrumentedBucket,
    PrefixedBucket,
    new_bucket,
    tenant_bucket,
)
from tidewell.objstore.bucket import Bucket
from tidewell.objstore.testing import BucketContract


class TestMemoryBucket(BucketContract):
    @pytest.fixture
    def bucket(self, tmp_path: Path) -> Bucket:
        return new_bucket(BucketConfig(backend="memory"), tmp_path)


class TestFilesystemBucket(BucketContract):
    @pytest.fixture
    def bucket(self, tmp_path: Path) -> Bucket:
        return new_bucket(BucketConfig(backend="filesystem"), tmp_path / "bucket")


class TestTenantView(BucketContract):
    @pytest.fixture
    def bucket(self, tmp_path: Path) -> Bucket:
        inner = FilesystemBucket(tmp_path / "bucket")
        inner.put("other-tenant/a/1", b"must stay invisible")
        inner.put("tenant-10/a/1", b"must stay invisible")
        return tenant_bucket(inner, "tenant-1")


class TestStoragePrefixOnMemory(BucketContract):
    @pytest.fixture
    def bucket(self, tmp_path: Path) -> Bucket:
        return new_bucket(BucketConfig(backend="memory", storage_prefix="cluster7"), tmp_path)


class TestInstrumentedFilesystem(BucketContract):
    @pytest.fixture
    def bucket(self, tmp_path: Path) -> Bucket:
        return new_bucket(
            BucketConfig(backend="filesystem"), tmp_path / "b", component="contract-test"
        )


def test_tenant_view_maps_keys(tmp_path: Path) -> None:
    inner = FilesystemBucket(tmp_path)
    view = tenant_bucket(inner, "team-a")
    view.put("01J/meta.json", b"{}")
    assert (tmp_path / "team-a" / "01J" / "meta.json").read_bytes() == b"{}"
    assert inner.get("team-a/01J/meta.json") == b"{}"
    assert view.list_dir("").prefixes == ["01J/"]
    assert view.attributes("01J/meta.json").key == "01J/meta.json"
    assert inner.list_dir("").prefixes == ["team-a/"]


@pytest.mark.parametrize("tenant", ["", "a/b", "..", "."])
def test_tenant_view_rejects_bad_tenant(tmp_path: Path, tenant: str) -> None:
    with pytest.raises(ValueError):
        tenant_bucket(FilesystemBucket(tmp_path), tenant)


def test_storage_prefix_is_applied(tmp_path: Path) -> None:
    bucket = new_bucket(
        BucketConfig(backend="filesystem", storage_prefix="abc"), tmp_path / "default"
    )
    assert isinstance(bucket, PrefixedBucket)
    bucket.put("t/k", b"v")
    assert (tmp_path / "default" / "abc" / "t" / "k").read_bytes() == b"v"


def test_filesystem_dir_setting_wins_over_default(tmp_path: Path) -> None:
    cfg = BucketConfig(backend="filesystem")
    cfg.filesystem.dir = str(tmp_path / "explicit")
    bucket = new_bucket(cfg, tmp_path / "default")
    bucket.put("k", b"v")
    assert (tmp_path / "explicit" / "k").exists()
    assert not (tmp_path / "default").exists()


def test_component_wraps_in_metrics(tmp_path: Path) -> None:
    bucket = new_bucket(BucketConfig(backend="memory"), tmp_path, component="ingester")
    assert isinstance(bucket, InstrumentedBucket)
