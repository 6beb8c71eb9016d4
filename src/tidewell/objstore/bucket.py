"""The bucket contract every object-storage backend implements.

Keys are ``/``-separated paths relative to the bucket root (``tenant/ULID/index``).
Listing is by *directory*, as S3's delimiter listing and Thanos' ``Iter`` do:
``iter_prefix("t1")`` and ``iter_prefix("t1/")`` both mean everything under the
directory ``t1``, never a key ``t10/...``.

The API is synchronous on purpose: the store-gateway's read path (``Querier``)
is synchronous, and every backend releases the GIL while it waits on I/O
(obstore runs requests in Rust; the filesystem uses plain syscalls). asyncio
callers such as the shipper use :class:`tidewell.objstore.aio.AsyncBucket`,
which runs each call in a worker thread.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tidewell.objstore.errors import InvalidKeyError, ObjectNotFoundError

__all__ = ["Bucket", "ListResult", "ObjectInfo", "join_key", "normalize_prefix", "validate_key"]


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """An object's key (relative to the bucket it was listed from), size and mtime."""

    key: str
    size: int
    last_modified: float  # unix seconds


@dataclass(slots=True)
class ListResult:
    """One level of a delimiter listing: sub-directories (ending in ``/``) and objects."""

    prefixes: list[str] = field(default_factory=list)
    objects: list[ObjectInfo] = field(default_factory=list)


def validate_key(key: str) -> str:
    """Return ``key`` if every backend can store it, else raise :class:`InvalidKeyError`."""
    if not key or key.startswith("/") or key.endswith("/"):
        raise InvalidKeyError(f"invalid object key {key!r}: must be a relative path of names")
    for part in key.split("/"):
        if part in ("", ".", "..") or "\\" in part or "\x00" in part:
            raise InvalidKeyError(f"invalid object key {key!r}: bad path segment {part!r}")
    return key


def normalize_prefix(prefix: str) -> str:
    """``""`` for the root, else the directory with exactly one trailing ``/``."""
    p = prefix.strip("/")
    if not p:
        return ""
    validate_key(p)
    return p + "/"


def join_key(*parts: str) -> str:
    """Join key segments with ``/`` (ignoring empty parts and stray slashes)."""
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


class Bucket(abc.ABC):
    """A flat store of immutable objects addressed by ``/``-separated keys."""

    #: A short description for logs and errors, e.g. ``s3:my-bucket``.
    name: str = "bucket"

    @abc.abstractmethod
    def get(self, key: str) -> bytes:
        """The whole object. Raises ``ObjectNotFoundError``."""

    @abc.abstractmethod
    def get_range(self, key: str, start: int, length: int | None = None) -> bytes:
        """Bytes ``[start, start+length)``, cut short at the end of the object.

        ``length=None`` reads to the end; a ``start`` at or past the end yields ``b""``.
        Raises ``ObjectNotFoundError``.
        """

    def get_ranges(self, key: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        """Several ``(start, length)`` ranges of one object; backends may fetch in parallel."""
        return [self.get_range(key, start, length) for start, length in ranges]

    @abc.abstractmethod
    def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        """Store an object atomically: readers see the old object, or all of the new one."""

    def upload_file(self, key: str, path: str | os.PathLike[str]) -> None:
        """Store a local file as one object, streaming it where the backend can."""
        self.put(key, Path(path).read_bytes())

    def download_file(self, key: str, path: str | os.PathLike[str]) -> None:
        """Write an object to a local file (via a temporary file, then rename)."""
        dest = Path(path)
        tmp = dest.with_name(f".{dest.name}.download")
        try:
            with open(tmp, "wb") as out:
                out.write(self.get(key))
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove an object. Deleting a missing object is not an error."""

    @abc.abstractmethod
    def attributes(self, key: str) -> ObjectInfo:
        """Size and last-modified time. Raises ``ObjectNotFoundError``."""

    def exists(self, key: str) -> bool:
        try:
            self.attributes(key)
        except ObjectNotFoundError:
            return False
        return True

    @abc.abstractmethod
    def iter_prefix(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object under the directory ``prefix``, recursively, in no set order."""

    @abc.abstractmethod
    def list_dir(self, prefix: str = "") -> ListResult:
        """Direct children of the directory ``prefix``: sub-directories and objects."""

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under the directory ``prefix``; returns how many."""
        keys = [o.key for o in self.iter_prefix(prefix)]
        for key in keys:
            self.delete(key)
        return len(keys)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections or handles; the default has none."""

    def __enter__(self) -> Bucket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"

