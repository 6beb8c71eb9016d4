"""A bucket in a local directory: the default backend, one file per object.

Our own rather than obstore's ``LocalStore`` because a bucket on local disk is
the only long-term copy on a single machine, so a put must survive power loss:
we write a temporary file, fsync it, rename it over the key and fsync the
directory; ``LocalStore`` renames without fsync. Keys map to plain paths, so
``promtool tsdb list <dir>/<tenant>`` reads the blocks straight from the bucket.
Ranged reads are ``pread`` on the file, with no extra copy.

A process killed mid-put leaves its hidden temporary file (``.<name>.tmp-<hex>``).
Listings never show temporary files, and delete those older than
``stale_tmp_after`` seconds (1h: no put of one object takes that long, so the
writer is gone) on the way, with directories they leave empty: the compactor's
cleaner lists every tenant each ``-compactor.cleanup-interval``, which sweeps
them, and a block whose other files did land is a partial block it removes.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from tidewell.objstore.bucket import Bucket, ListResult, ObjectInfo, normalize_prefix, validate_key
from tidewell.objstore.errors import BucketAccessDeniedError, BucketError, ObjectNotFoundError
from tidewell.util.fsync import fsync_dir

__all__ = ["FilesystemBucket"]

log = logging.getLogger("tidewell.objstore")

_TMP_NAME = re.compile(r"^\..*\.tmp-[0-9a-f]{32}$")


def _is_tmp(name: str) -> bool:
    return name.startswith(".") and _TMP_NAME.match(name) is not None


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _sync_dir(path: Path) -> None:
    """Best effort: a file system that cannot sync directories still stores objects."""
    with contextlib.suppress(OSError):
        fsync_dir(path)


class FilesystemBucket(Bucket):
    """Objects as files under ``root``; puts are atomic and durable."""

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True,
                 stale_tmp_after: float = 3600.0) -> None:
        self.root = Path(root).absolute()
        self.root.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.stale_tmp_after = stale_tmp_after
        self.name = f"filesystem:{self.root}"

    # -- helpers -----------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def _error(self, exc: OSError, operation: str, key: str) -> BucketError:
        msg = f"{operation} {key!r} in {self.name}: {exc.strerror or exc}"
        missing = (FileNotFoundError, IsADirectoryError, NotADirectoryError)
        if operation != "upload" and isinstance(exc, missing):
            return ObjectNotFoundError(
                f"object {key!r} not found in {self.name}", operation=operation, key=key
            )
        if isinstance(exc, PermissionError):
            return BucketAccessDeniedError(msg, operation=operation, key=key)
        return BucketError(msg, operation=operation, key=key)

    def _make_parents(self, directory: Path) -> None:
        """Create missing directories, fsyncing each new one's parent so it survives a crash."""
        missing = []
        d = directory
        while not d.exists():
            missing.append(d)
            d = d.parent
        for new in reversed(missing):
            try:
                new.mkdir()
            except FileExistsError:
                continue
            if self.fsync:
                _sync_dir(new.parent)

    def _commit(self, tmp: Path, dest: Path) -> None:
        os.replace(tmp, dest)
        if self.fsync:
            _sync_dir(dest.parent)

    def _tmp_for(self, dest: Path) -> Path:
        return dest.with_name(f".{dest.name}.tmp-{uuid.uuid4().hex}")

    def _sweep_tmp(self, path: str) -> None:
        """Delete a temporary file left by a killed writer (older than ``stale_tmp_after``),
        then the directories it leaves empty."""
        try:
            if time.time() - os.stat(path).st_mtime <= self.stale_tmp_after:
                return
            os.unlink(path)
        except OSError:
            return
        log.warning("removed temporary file of an interrupted upload: path=%s", path)
        self._remove_empty_parents(Path(path).parent)

    def _remove_empty_parents(self, d: Path) -> None:
        """Object stores have no empty directories: remove ``d`` and its parents while empty."""
        while d != self.root and self.root in d.parents:
            try:
                d.rmdir()
            except OSError:
                break
            d = d.parent

    # -- Bucket ------------------------------------------------------------------------
    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except OSError as exc:
            raise self._error(exc, "get", key) from None

    def get_range(self, key: str, start: int, length: int | None = None) -> bytes:
        if start < 0 or (length is not None and length < 0):
            raise ValueError(f"invalid range start={start} length={length}")
        try:
            fd = os.open(self._path(key), os.O_RDONLY)
        except OSError as exc:
            raise self._error(exc, "get_range", key) from None
        try:
            size = os.fstat(fd).st_size
            if start >= size:
                return b""
            n = size - start if length is None else min(length, size - start)
            out = bytearray()
            while len(out) < n:
                chunk = os.pread(fd, n - len(out), start + len(out))
                if not chunk:
                    break
                out += chunk
            return bytes(out)
        except OSError as exc:
            raise self._error(exc, "get_range", key) from None
        finally:
            os.close(fd)

    def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        dest = self._path(key)
        tmp = self._tmp_for(dest)
        try:
            self._make_parents(dest.parent)
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                if self.fsync:
                    os.fsync(f.fileno())
            self._commit(tmp, dest)
        except OSError as exc:
            _discard(tmp)
            raise self._error(exc, "upload", key) from None

    def upload_file(self, key: str, path: str | os.PathLike[str]) -> None:
        dest = self._path(key)
        tmp = self._tmp_for(dest)
        try:
            self._make_parents(dest.parent)
            with open(path, "rb") as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
                out.flush()
                if self.fsync:
                    os.fsync(out.fileno())
            self._commit(tmp, dest)
        except FileNotFoundError as exc:
            _discard(tmp)
            if not Path(path).exists():
                raise  # the local source is missing: not a bucket problem
            raise self._error(exc, "upload", key) from None
        except OSError as exc:
            _discard(tmp)
            raise self._error(exc, "upload", key) from None

    def download_file(self, key: str, path: str | os.PathLike[str]) -> None:
        src = self._path(key)
        dest = Path(path)
        tmp = dest.with_name(f".{dest.name}.download")
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
        except OSError:
            _discard(tmp)
            if not src.is_file():
                missing = FileNotFoundError(errno.ENOENT, "not found")
                raise self._error(missing, "get", key) from None
            raise

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except IsADirectoryError:
            return  # a "directory" is not an object
        except OSError as exc:
            raise self._error(exc, "delete", key) from None
        self._remove_empty_parents(path.parent)

    def attributes(self, key: str) -> ObjectInfo:
        try:
            st = self._path(key).stat()
        except OSError as exc:
            raise self._error(exc, "attributes", key) from None
        if not os.path.isfile(self._path(key)):
            raise ObjectNotFoundError(
                f"object {key!r} not found in {self.name}", operation="attributes", key=key
            )
        return ObjectInfo(key=key, size=st.st_size, last_modified=st.st_mtime)

    def iter_prefix(self, prefix: str = "") -> Iterator[ObjectInfo]:
        p = normalize_prefix(prefix)
        top = self.root / p if p else self.root
        if not top.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            rel = os.path.relpath(dirpath, self.root)
            base = "" if rel == "." else rel.replace(os.sep, "/") + "/"
            for name in sorted(filenames):
                if _is_tmp(name):
                    self._sweep_tmp(os.path.join(dirpath, name))
                    continue
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except FileNotFoundError:
                    continue  # deleted while listing
                yield ObjectInfo(key=base + name, size=st.st_size, last_modified=st.st_mtime)

    def list_dir(self, prefix: str = "") -> ListResult:
        p = normalize_prefix(prefix)
        top = self.root / p if p else self.root
        out = ListResult()
        try:
            entries = sorted(os.scandir(top), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            return out
        for e in entries:
            if _is_tmp(e.name):
                continue
            try:
                if e.is_dir():
                    out.prefixes.append(p + e.name + "/")
                elif e.is_file():
                    st = e.stat()
                    out.objects.append(
                        ObjectInfo(key=p + e.name, size=st.st_size, last_modified=st.st_mtime)
                    )
            except FileNotFoundError:
                continue
        return out
