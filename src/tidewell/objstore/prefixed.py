"""A view of a bucket under a key prefix: per-tenant buckets and ``storage_prefix``.

Keys given to and returned by the view are relative to the prefix, so code that
works on one tenant (``<ULID>/meta.json``) never spells the tenant itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

from tidewell.objstore.bucket import Bucket, ListResult, ObjectInfo, normalize_prefix, validate_key

__all__ = ["PrefixedBucket", "tenant_bucket"]


class PrefixedBucket(Bucket):
    """Every key lives under ``prefix/`` of the wrapped bucket."""

    def __init__(self, inner: Bucket, prefix: str, *, owns_inner: bool = False) -> None:
        p = normalize_prefix(prefix)
        if not p:
            raise ValueError("PrefixedBucket needs a non-empty prefix")
        self.inner = inner
        self.prefix = p
        self.owns_inner = owns_inner
        self.name = f"{inner.name}/{p.rstrip('/')}"

    def _k(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def _strip(self, info: ObjectInfo) -> ObjectInfo:
        return ObjectInfo(info.key[len(self.prefix) :], info.size, info.last_modified)

    def get(self, key: str) -> bytes:
        return self.inner.get(self._k(key))

    def get_range(self, key: str, start: int, length: int | None = None) -> bytes:
        return self.inner.get_range(self._k(key), start, length)

    def get_ranges(self, key: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        return self.inner.get_ranges(self._k(key), ranges)

    def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        self.inner.put(self._k(key), data)

    def upload_file(self, key: str, path: str | os.PathLike[str]) -> None:
        self.inner.upload_file(self._k(key), path)

    def download_file(self, key: str, path: str | os.PathLike[str]) -> None:
        self.inner.download_file(self._k(key), path)

    def delete(self, key: str) -> None:
        self.inner.delete(self._k(key))

    def attributes(self, key: str) -> ObjectInfo:
        return self._strip(self.inner.attributes(self._k(key)))

    def exists(self, key: str) -> bool:
        return self.inner.exists(self._k(key))

    def iter_prefix(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for info in self.inner.iter_prefix(self.prefix + normalize_prefix(prefix)):
            yield self._strip(info)

    def list_dir(self, prefix: str = "") -> ListResult:
        got = self.inner.list_dir(self.prefix + normalize_prefix(prefix))
        n = len(self.prefix)
        return ListResult(
            prefixes=[p[n:] for p in got.prefixes],
            objects=[self._strip(o) for o in got.objects],
        )

    def close(self) -> None:
        """Close the wrapped bucket only if this view owns it (tenant views do not)."""
        if self.owns_inner:
            self.inner.close()


def tenant_bucket(bucket: Bucket, tenant: str) -> PrefixedBucket:
    """The tenant's part of the bucket (``<tenant>/...``)."""
    if not tenant or "/" in tenant or tenant in (".", ".."):
        raise ValueError(f"invalid tenant ID {tenant!r} for a bucket path")
    return PrefixedBucket(bucket, tenant)
