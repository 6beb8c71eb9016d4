"""Object storage: one small bucket contract over filesystem, S3, GCS, Azure and memory.

``new_bucket(config, default_dir)`` builds the configured backend; ``tenant_bucket``
scopes it to ``<tenant>/``; ``InstrumentedBucket`` adds Mimir's
``thanos_objstore_bucket_*`` metrics; ``AsyncBucket`` serves asyncio callers.
``ObstoreBucket`` (S3, GCS, Azure, memory) is loaded on first use: see ``factory``.
"""

from typing import Any

from tidewell.objstore.aio import AsyncBucket
from tidewell.objstore.bucket import (
    Bucket,
    ListResult,
    ObjectInfo,
    join_key,
    normalize_prefix,
    validate_key,
)
from tidewell.objstore.config import BucketConfig
from tidewell.objstore.errors import (
    BucketAccessDeniedError,
    BucketError,
    BucketUnavailableError,
    InvalidBucketConfigError,
    InvalidKeyError,
    ObjectNotFoundError,
)
from tidewell.objstore.factory import new_bucket
from tidewell.objstore.filesystem import FilesystemBucket
from tidewell.objstore.instrumented import InstrumentedBucket
from tidewell.objstore.prefixed import PrefixedBucket, tenant_bucket

__all__ = [
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


def __getattr__(name: str) -> Any:
    if name == "ObstoreBucket":
        from tidewell.objstore.obstore_bucket import ObstoreBucket

        return ObstoreBucket
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
