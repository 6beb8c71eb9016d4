"""A decorator that counts and times every bucket operation (``thanos_objstore_*``).

A missing object is an answer, not a failure: ``ObjectNotFoundError`` is not
counted in ``..._failures_total``, as Mimir does for the reads that expect it.
Durations are observed for successful operations only, as Thanos does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from tidewell.objstore import metrics as m
from tidewell.objstore.bucket import Bucket, ListResult, ObjectInfo
from tidewell.objstore.errors import ObjectNotFoundError

__all__ = ["InstrumentedBucket"]

T = TypeVar("T")


class InstrumentedBucket(Bucket):
    """Wraps a bucket; metrics carry ``component`` (who uses it) and ``operation``."""

    def __init__(self, inner: Bucket, component: str) -> None:
        self.inner = inner
        self.component = component
        self.name = inner.name
        for op in m.OPERATIONS:  # expose zeroes from the start, as Thanos does
            m.OPS.labels(component, op)
            m.OPS_FAILURES.labels(component, op)

    def _run(self, op: str, fn: Callable[[], T], count: int = 1) -> T:
        m.OPS.labels(self.component, op).inc(count)
        start = time.perf_counter()
        try:
            result = fn()
        except ObjectNotFoundError:
            raise
        except Exception:
            m.OPS_FAILURES.labels(self.component, op).inc()
            raise
        m.OPS_DURATION.labels(self.component, op).observe(time.perf_counter() - start)
        return result

    def _fetched(self, op: str, n: int) -> None:
        m.OPS_FETCHED_BYTES.labels(self.component, op).inc(n)

    def _uploaded(self) -> None:
        m.LAST_SUCCESSFUL_UPLOAD.labels(self.component).set(time.time())

    def get(self, key: str) -> bytes:
        data = self._run("get", lambda: self.inner.get(key))
        self._fetched("get", len(data))
        return data

    def get_range(self, key: str, start: int, length: int | None = None) -> bytes:
        data = self._run("get_range", lambda: self.inner.get_range(key, start, length))
        self._fetched("get_range", len(data))
        return data

    def get_ranges(self, key: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        out = self._run("get_range", lambda: self.inner.get_ranges(key, ranges), len(ranges) or 1)
        self._fetched("get_range", sum(len(b) for b in out))
        return out

    def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        self._run("upload", lambda: self.inner.put(key, data))
        self._uploaded()

    def upload_file(self, key: str, path: str | os.PathLike[str]) -> None:
        self._run("upload", lambda: self.inner.upload_file(key, path))
        self._uploaded()

    def download_file(self, key: str, path: str | os.PathLike[str]) -> None:
        self._run("get", lambda: self.inner.download_file(key, path))
        self._fetched("get", os.path.getsize(path))

    def delete(self, key: str) -> None:
        self._run("delete", lambda: self.inner.delete(key))

    def attributes(self, key: str) -> ObjectInfo:
        return self._run("attributes", lambda: self.inner.attributes(key))

    def exists(self, key: str) -> bool:
        return self._run("exists", lambda: self.inner.exists(key))

    def iter_prefix(self, prefix: str = "") -> Iterator[ObjectInfo]:
        # Listing is lazy; count the operation when it completes or fails.
        m.OPS.labels(self.component, "iter").inc()
        start = time.perf_counter()
        try:
            yield from self.inner.iter_prefix(prefix)
        except Exception:
            m.OPS_FAILURES.labels(self.component, "iter").inc()
            raise
        m.OPS_DURATION.labels(self.component, "iter").observe(time.perf_counter() - start)

    def list_dir(self, prefix: str = "") -> ListResult:
        return self._run("iter", lambda: self.inner.list_dir(prefix))

    def close(self) -> None:
        self.inner.close()
