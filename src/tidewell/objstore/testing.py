"""The bucket contract as a pytest suite, shipped with the package (as zarr's ``StoreTests``).

Subclass :class:`BucketContract` and provide a ``bucket`` fixture returning an
empty bucket; every backend and decorator then runs the same ~20 checks.
Imports pytest, so only tests import this module.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tidewell.objstore.bucket import Bucket
from tidewell.objstore.errors import InvalidKeyError, ObjectNotFoundError

__all__ = ["BucketContract"]

PAYLOAD = bytes(range(256)) * 40  # 10,240 bytes, every byte value


class BucketContract:
    """One test per promise of :class:`tidewell.objstore.bucket.Bucket`."""

    @pytest.fixture
    def bucket(self) -> Bucket:  # pragma: no cover - subclasses override
        raise NotImplementedError

    # -- put / get ---------------------------------------------------------------------
    def test_put_get_roundtrip(self, bucket: Bucket) -> None:
        bucket.put("t/01ABC/chunks/000001", PAYLOAD)
        assert bucket.get("t/01ABC/chunks/000001") == PAYLOAD

    def test_put_overwrites(self, bucket: Bucket) -> None:
        bucket.put("k", b"first")
        bucket.put("k", b"second, longer")
        assert bucket.get("k") == b"second, longer"
        assert bucket.attributes("k").size == len(b"second, longer")

    def test_empty_object(self, bucket: Bucket) -> None:
        bucket.put("empty", b"")
        assert bucket.get("empty") == b""
        assert bucket.attributes("empty").size == 0
        assert bucket.get_range("empty", 0, 10) == b""

    def test_put_accepts_memoryview_and_bytearray(self, bucket: Bucket) -> None:
        bucket.put("mv", memoryview(PAYLOAD)[10:20])
        bucket.put("ba", bytearray(b"xyz"))
        assert bucket.get("mv") == PAYLOAD[10:20]
        assert bucket.get("ba") == b"xyz"

    def test_keys_with_unusual_characters(self, bucket: Bucket) -> None:
        key = "tenant-1/a b+c=d,e@f~g/x.json"
        bucket.put(key, b"odd")
        assert bucket.get(key) == b"odd"
        assert [o.key for o in bucket.iter_prefix("tenant-1")] == [key]

    def test_not_found(self, bucket: Bucket, tmp_path: Path) -> None:
        with pytest.raises(ObjectNotFoundError) as info:
            bucket.get("missing/object")
        assert info.value.key.endswith("missing/object")  # views may report the full key
        with pytest.raises(ObjectNotFoundError):
            bucket.get_range("missing/object", 0, 10)
        with pytest.raises(ObjectNotFoundError):
            bucket.get_ranges("missing/object", [(0, 10), (5, 5)])
        with pytest.raises(ObjectNotFoundError):
            bucket.attributes("missing/object")
        with pytest.raises(ObjectNotFoundError):
            bucket.download_file("missing/object", tmp_path / "out")
        assert not (tmp_path / "out").exists()
        assert bucket.exists("missing/object") is False

    def test_invalid_keys_rejected(self, bucket: Bucket) -> None:
        for key in ("", "/abs", "a//b", "a/../b", "./a", "dir/"):
            with pytest.raises(InvalidKeyError):
                bucket.put(key, b"x")

    # -- ranges ------------------------------------------------------------------------
    def test_get_range(self, bucket: Bucket) -> None:
        bucket.put("r", PAYLOAD)
        assert bucket.get_range("r", 0, 5) == PAYLOAD[:5]
        assert bucket.get_range("r", 1000, 300) == PAYLOAD[1000:1300]
        assert bucket.get_range("r", 5000) == PAYLOAD[5000:]
        assert bucket.get_range("r", 7, 0) == b""

    def test_get_range_past_end(self, bucket: Bucket) -> None:
        bucket.put("r", PAYLOAD)
        n = len(PAYLOAD)
        assert bucket.get_range("r", n - 10, 100) == PAYLOAD[-10:]
        assert bucket.get_range("r", n, 10) == b""
        assert bucket.get_range("r", n + 1000, 10) == b""
        assert bucket.get_range("r", n + 5) == b""

    def test_get_range_rejects_negative(self, bucket: Bucket) -> None:
        bucket.put("r", PAYLOAD)
        with pytest.raises(ValueError):
            bucket.get_range("r", -1, 5)

    def test_get_ranges(self, bucket: Bucket) -> None:
        bucket.put("r", PAYLOAD)
        n = len(PAYLOAD)
        ranges = [(0, 10), (5000, 17), (n - 3, 10), (n + 10, 4), (3, 0), (9000, 1)]
        got = bucket.get_ranges("r", ranges)
        assert got == [PAYLOAD[s : s + ln] for s, ln in ranges]
        assert bucket.get_ranges("r", []) == []

    # -- listing -----------------------------------------------------------------------
    def _tree(self, bucket: Bucket) -> None:
        for key in ("a/1", "a/2", "a/sub/3", "a/sub/deeper/4", "ab/5", "top"):
            bucket.put(key, key.encode())

    def test_list_dir_with_delimiter(self, bucket: Bucket) -> None:
        self._tree(bucket)
        root = bucket.list_dir("")
        assert root.prefixes == ["a/", "ab/"]
        assert [o.key for o in root.objects] == ["top"]
        a = bucket.list_dir("a")
        assert a.prefixes == ["a/sub/"]
        assert [o.key for o in a.objects] == ["a/1", "a/2"]
        assert [o.size for o in a.objects] == [3, 3]
        assert bucket.list_dir("a/") == a

    def test_list_dir_missing_prefix_is_empty(self, bucket: Bucket) -> None:
        self._tree(bucket)
        got = bucket.list_dir("nope")
        assert got.prefixes == [] and got.objects == []

    def test_iter_prefix_recursive(self, bucket: Bucket) -> None:
        self._tree(bucket)
        keys = sorted(o.key for o in bucket.iter_prefix("a"))
        assert keys == ["a/1", "a/2", "a/sub/3", "a/sub/deeper/4"]  # not ab/5
        assert sorted(o.key for o in bucket.iter_prefix("a/sub/")) == ["a/sub/3", "a/sub/deeper/4"]
        everything = sorted(o.key for o in bucket.iter_prefix(""))
        assert everything == ["a/1", "a/2", "a/sub/3", "a/sub/deeper/4", "ab/5", "top"]
        assert list(bucket.iter_prefix("nope")) == []

    # -- delete / exists / attributes ---------------------------------------------------
    def test_delete(self, bucket: Bucket) -> None:
        self._tree(bucket)
        bucket.delete("a/sub/deeper/4")
        assert not bucket.exists("a/sub/deeper/4")
        with pytest.raises(ObjectNotFoundError):
            bucket.get("a/sub/deeper/4")
        assert bucket.list_dir("a/sub").prefixes == []  # no empty directory left behind
        bucket.delete("a/sub/deeper/4")  # deleting again is fine
        bucket.delete("never/existed")

    def test_delete_prefix(self, bucket: Bucket) -> None:
        self._tree(bucket)
        assert bucket.delete_prefix("a") == 4
        assert sorted(o.key for o in bucket.iter_prefix("")) == ["ab/5", "top"]

    def test_exists_and_attributes(self, bucket: Bucket) -> None:
        before = time.time()
        bucket.put("x/y", PAYLOAD)
        assert bucket.exists("x/y")
        assert not bucket.exists("x")  # a directory is not an object
        info = bucket.attributes("x/y")
        assert info.key == "x/y"
        assert info.size == len(PAYLOAD)
        # Some servers keep whole seconds only.
        assert before - 2 <= info.last_modified <= time.time() + 2

    # -- files -------------------------------------------------------------------------
    def test_upload_and_download_file(self, bucket: Bucket, tmp_path: Path) -> None:
        src = tmp_path / "big"
        data = os.urandom(6 * 1024 * 1024 + 123)  # over one 5 MiB multipart part
        src.write_bytes(data)
        bucket.upload_file("blk/chunks/000001", src)
        assert bucket.attributes("blk/chunks/000001").size == len(data)
        assert bucket.get_range("blk/chunks/000001", 5 * 1024 * 1024 - 5, 10) == data[
            5 * 1024 * 1024 - 5 : 5 * 1024 * 1024 + 5
        ]
        out = tmp_path / "copy"
        bucket.download_file("blk/chunks/000001", out)
        assert out.read_bytes() == data
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []

    def test_upload_missing_local_file(self, bucket: Bucket, tmp_path: Path) -> None:
        with pytest.raises(FileNotFoundError):
            bucket.upload_file("k", tmp_path / "does-not-exist")
        assert not bucket.exists("k")
