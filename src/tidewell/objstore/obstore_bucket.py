"""The bucket contract over an ``obstore`` store: S3, GCS, Azure and memory.

obstore (Rust ``object_store``) brings signing, retries with backoff, timeouts,
multipart uploads and parallel ranged reads, so we write no HTTP of our own.
This adapter only evens out the differences the contract hides: a range that
starts past the end is ``b""`` (S3 answers 416, memory raises), deleting a
missing object is fine, and every failure becomes one of ``objstore.errors``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import obstore
from obstore import exceptions as obx

from tidewell.objstore.bucket import Bucket, ListResult, ObjectInfo, normalize_prefix, validate_key
from tidewell.objstore.errors import (
    BucketAccessDeniedError,
    BucketError,
    BucketUnavailableError,
    ObjectNotFoundError,
)

__all__ = ["ObstoreBucket", "first_line", "map_obstore_error"]

_DENIED_MARKERS = ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403 Forbidden")


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 400 else line[:400] + "…"


def map_obstore_error(exc: BaseException, operation: str, key: str, name: str) -> BucketError:
    """Translate an obstore exception into our error tree."""
    detail = first_line(exc)
    where = f"{operation} {key!r} in {name}" if key else f"{operation} in {name}"
    text = str(exc)
    if isinstance(exc, (obx.NotFoundError, FileNotFoundError)):
        if "NoSuchBucket" in text:
            return BucketError(f"{where}: the bucket does not exist", operation=operation, key=key)
        msg = f"object {key!r} not found in {name}"
        return ObjectNotFoundError(msg, operation=operation, key=key)
    if isinstance(exc, (obx.PermissionDeniedError, obx.UnauthenticatedError)) or any(
        m in text for m in _DENIED_MARKERS
    ):
        msg = f"{where}: access denied: {detail}"
        return BucketAccessDeniedError(msg, operation=operation, key=key)
    if isinstance(exc, obx.GenericError):
        return BucketUnavailableError(f"{where} failed: {detail}", operation=operation, key=key)
    return BucketError(f"{where} failed: {detail}", operation=operation, key=key)


def _info(meta: dict[str, Any], strip: int = 0) -> ObjectInfo:
    return ObjectInfo(
        key=meta["path"][strip:],
        size=int(meta["size"]),
        last_modified=meta["last_modified"].timestamp(),
    )


class ObstoreBucket(Bucket):
    """Any obstore store behind the bucket contract."""

    def __init__(
        self,
        store: Any,
        name: str,
        *,
        part_size: int = 5 * 1024 * 1024,
        coalesce: int = 1024 * 1024,
    ) -> None:
        self.store = store
        self.name = name
        self.part_size = part_size
        self.coalesce = coalesce

    def _err(self, exc: BaseException, operation: str, key: str) -> BucketError:
        return map_obstore_error(exc, operation, key, self.name)

    def get(self, key: str) -> bytes:
        validate_key(key)
        try:
            return bytes(obstore.get(self.store, key).bytes())
        except (obx.BaseError, OSError) as exc:
            raise self._err(exc, "get", key) from None

    def _size(self, key: str, operation: str) -> int:
        try:
            return int(obstore.head(self.store, key)["size"])
        except (obx.BaseError, OSError) as exc:
            raise self._err(exc, operation, key) from None

    def get_range(self, key: str, start: int, length: int | None = None) -> bytes:
        validate_key(key)
        if start < 0 or (length is not None and length < 0):
            raise ValueError(f"invalid range start={start} length={length}")
        if length == 0:
            self._size(key, "get_range")  # still report a missing object
            return b""
        try:
            if length is None:
                got = obstore.get(self.store, key, options={"range": {"offset": start}})
                return bytes(got.bytes())
            return bytes(obstore.get_range(self.store, key, start=start, length=length))
        except (obx.BaseError, OSError) as exc:
            err = self._err(exc, "get_range", key)
        if isinstance(err, ObjectNotFoundError):
            raise err
        # S3 answers 416 and memory raises for a start at or past the end: that is b"".
        if start >= self._size(key, "get_range"):
            return b""
        raise err

    def get_ranges(self, key: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        validate_key(key)
        if not ranges:
            return []
        for start, length in ranges:
            if start < 0 or length < 0:
                raise ValueError(f"invalid range start={start} length={length}")
        try:
            if all(length > 0 for _, length in ranges):
                got = obstore.get_ranges(
                    self.store,
                    key,
                    starts=[s for s, _ in ranges],
                    lengths=[n for _, n in ranges],
                    coalesce=self.coalesce,
                )
                return [bytes(b) for b in got]
        except (obx.BaseError, OSError) as exc:
            err = self._err(exc, "get_range", key)
            if isinstance(err, ObjectNotFoundError):
                raise err from None
        # Some range is empty or starts past the end: clamp against the size and retry.
        size = self._size(key, "get_range")
        wanted = [(i, s, min(n, size - s)) for i, (s, n) in enumerate(ranges) if s < size and n > 0]
        out = [b""] * len(ranges)
        if wanted:
            try:
                got = obstore.get_ranges(
                    self.store,
                    key,
                    starts=[s for _, s, _ in wanted],
                    lengths=[n for _, _, n in wanted],
                    coalesce=self.coalesce,
                )
            except (obx.BaseError, OSError) as exc:
                raise self._err(exc, "get_range", key) from None
            for (i, _, _), b in zip(wanted, got, strict=True):
                out[i] = bytes(b)
        return out

    def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        validate_key(key)
        try:
            obstore.put(self.store, key, bytes(data), chunk_size=self.part_size)
        except (obx.BaseError, OSError) as exc:
            raise self._err(exc, "upload", key) from None

    def upload_file(self, key: str, path: str | os.PathLike[str]) -> None:
        validate_key(key)
        src = Path(path)
        if not src.is_file():
            raise FileNotFoundError(f"cannot upload {str(src)!r}: no such file")
        try:
            obstore.put(self.store, key, src, chunk_size=self.part_size)
        except (obx.BaseError, OSError) as exc:
            raise self._err(exc, "upload", key) from None

    def download_file(self, key: str, path: str | os.PathLike[str]) -> None:
        validate_key(key)
        dest = Path(path)
        tmp = dest.with_name(f".{dest.name}.download")
        try:
            with open(tmp, "wb") as out:
                try:
                    for chunk in obstore.get(self.store, key).stream(min_chunk_size=1 << 20):
                        out.write(chunk)
                except (obx.BaseError, FileNotFoundError) as exc:
                    raise self._err(exc, "get", key) from None
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    def delete(self, key: str) -> None:
        validate_key(key)
        try:
            obstore.delete(self.store, key)
        except (obx.BaseError, OSError) as exc:
            err = self._err(exc, "delete", key)
            if not isinstance(err, ObjectNotFoundError):
                raise err from None

    def delete_prefix(self, prefix: str) -> int:
        """Bulk delete (S3 deletes up to 1,000 keys per request)."""
        keys = [o.key for o in self.iter_prefix(prefix)]
        for i in range(0, len(keys), 1000):
            batch = keys[i : i + 1000]
            try:
                obstore.delete(self.store, batch)
            except (obx.BaseError, OSError) as exc:
                err = self._err(exc, "delete", batch[0])
                if not isinstance(err, ObjectNotFoundError):
                    raise err from None
                for key in batch:  # some vanished meanwhile: finish one by one
                    self.delete(key)
        return len(keys)

    def attributes(self, key: str) -> ObjectInfo:
        validate_key(key)
        try:
            return _info(obstore.head(self.store, key))
        except (obx.BaseError, OSError) as exc:
            raise self._err(exc, "attributes", key) from None

    def iter_prefix(self, prefix: str = "") -> Iterator[ObjectInfo]:
        p = normalize_prefix(prefix)
        try:
            for batch in obstore.list(self.store, p.rstrip("/") or None, chunk_size=1000):
                for meta in batch:
                    yield _info(meta)
        except (obx.BaseError, OSError) as exc:
            raise self._err(exc, "iter", p) from None

    def list_dir(self, prefix: str = "") -> ListResult:
        p = normalize_prefix(prefix)
        try:
            got = obstore.list_with_delimiter(self.store, p.rstrip("/") or None)
        except (obx.BaseError, OSError) as exc:
            raise self._err(exc, "iter", p) from None
        return ListResult(
            prefixes=sorted(cp.rstrip("/") + "/" for cp in got["common_prefixes"]),
            objects=sorted((_info(m) for m in got["objects"]), key=lambda o: o.key),
        )
