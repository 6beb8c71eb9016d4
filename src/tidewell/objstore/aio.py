"""asyncio access to a bucket: each call runs in a worker thread.

Every backend releases the GIL while it waits (obstore's Rust client, plain
file syscalls), so threads give real overlap without a second, async copy of
each backend. The shipper and other asyncio code use this.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence

from tidewell.objstore.bucket import Bucket, ListResult, ObjectInfo

__all__ = ["AsyncBucket"]


class AsyncBucket:
    """Awaitable versions of the :class:`Bucket` methods."""

    def __init__(self, bucket: Bucket) -> None:
        self.bucket = bucket

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self.bucket.get, key)

    async def get_range(self, key: str, start: int, length: int | None = None) -> bytes:
        return await asyncio.to_thread(self.bucket.get_range, key, start, length)

    async def get_ranges(self, key: str, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        return await asyncio.to_thread(self.bucket.get_ranges, key, ranges)

    async def put(self, key: str, data: bytes | bytearray | memoryview) -> None:
        await asyncio.to_thread(self.bucket.put, key, data)

    async def upload_file(self, key: str, path: str | os.PathLike[str]) -> None:
        await asyncio.to_thread(self.bucket.upload_file, key, path)

    async def download_file(self, key: str, path: str | os.PathLike[str]) -> None:
        await asyncio.to_thread(self.bucket.download_file, key, path)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.bucket.delete, key)

    async def attributes(self, key: str) -> ObjectInfo:
        return await asyncio.to_thread(self.bucket.attributes, key)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self.bucket.exists, key)

    async def iter_prefix(self, prefix: str = "") -> list[ObjectInfo]:
        """All objects under ``prefix`` (listed in one worker thread)."""
        return await asyncio.to_thread(lambda: list(self.bucket.iter_prefix(prefix)))

    async def list_dir(self, prefix: str = "") -> ListResult:
        return await asyncio.to_thread(self.bucket.list_dir, prefix)
