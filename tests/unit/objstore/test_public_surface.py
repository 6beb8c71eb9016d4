"""Pins what ``tidewell.objstore`` exports, so changes to the seam are deliberate."""

from __future__ import annotations

import tidewell.objstore as objstore


def test_exported_members() -> None:
    assert sorted(objstore.__all__) == [
        "AsyncBucket",
        "Bucket",
        "BucketAccessDeniedError",
        "BucketConfig",
        "BucketError",
        "BucketUnavailableError",
        "FilesystemBucket",
        "InstrumentedBucket",
        "InvalidBucketConfigError",
        "InvalidKeyError",
        "ListResult",
        "ObjectInfo",
        "ObjectNotFoundError",
        "ObstoreBucket",
        "PrefixedBucket",
        "join_key",
        "new_bucket",
        "normalize_prefix",
        "tenant_bucket",
        "validate_key",
    ]
    for name in objstore.__all__:
        assert getattr(objstore, name) is not None


def test_error_tree() -> None:
    assert issubclass(objstore.ObjectNotFoundError, objstore.BucketError)
    assert issubclass(objstore.BucketUnavailableError, objstore.BucketError)
    assert issubclass(objstore.BucketAccessDeniedError, objstore.BucketError)
    assert issubclass(objstore.InvalidKeyError, ValueError)
    assert issubclass(objstore.InvalidBucketConfigError, ValueError)
    assert objstore.join_key("t", "/01ABC/", "", "meta.json") == "t/01ABC/meta.json"
