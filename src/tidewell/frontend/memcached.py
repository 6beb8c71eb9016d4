"""A small asyncio memcached client speaking the text protocol (``get``/``set``).

Written here rather than taken from PyPI: ``pymemcache`` is synchronous and
``aiomcache`` is thinly maintained, while the two commands the results cache
needs are a few lines of protocol. Keys are spread over the servers by a
stable hash; each server keeps a pool of idle connections. Every operation has
a deadline; a connection that errs or times out is closed, never reused, and
the error is counted and swallowed (a cache miss), as Mimir's cache client does.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Sequence

from tidewell.frontend import metrics
from tidewell.model.errors import TidewellError

__all__ = ["MemcachedCache", "MemcachedError"]

log = logging.getLogger("tidewell.frontend.memcached")

_MAX_RELATIVE_TTL = 30 * 86400  # memcached reads larger expirations as a Unix time


class MemcachedError(TidewellError):
    """A protocol or server error answered by memcached."""


_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class _Server:
    def __init__(self, address: str, timeout: float, max_idle: int) -> None:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"invalid memcached address {address!r} (expected host:port)")
        self.host, self.port = host.strip("[]"), int(port)
        self.timeout = timeout
        self.max_idle = max_idle
        self.idle: list[_Conn] = []

    async def _acquire(self) -> _Conn:
        while self.idle:
            reader, writer = self.idle.pop()
            if not writer.is_closing() and not reader.at_eof():
                return reader, writer
            writer.close()
        return await asyncio.open_connection(self.host, self.port)

    def _release(self, conn: _Conn) -> None:
        if len(self.idle) < self.max_idle:
            self.idle.append(conn)
        else:
            conn[1].close()

    async def call(self, payload: bytes, read: object) -> object:
        """Send ``payload`` and parse the answer with ``read(reader)`` within the timeout."""
        conn = None
        try:
            async with asyncio.timeout(self.timeout):
                conn = await self._acquire()
                conn[1].write(payload)
                await conn[1].drain()
                result = await read(conn[0])  # type: ignore[operator]
        except BaseException:
            if conn is not None:
                conn[1].close()
            raise
        self._release(conn)
        return result

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


async def _read_get(reader: asyncio.StreamReader) -> bytes | None:
    line = await reader.readline()
    if line == b"END\r\n":
        return None
    parts = line.split()
    if len(parts) < 4 or parts[0] != b"VALUE":
        raise MemcachedError(f"unexpected reply to get: {line[:100]!r}")
    data = await reader.readexactly(int(parts[3]) + 2)
    if await reader.readline() != b"END\r\n":
        raise MemcachedError("get reply not terminated by END")
    return data[:-2]


async def _read_set(reader: asyncio.StreamReader) -> bool:
    line = await reader.readline()
    if line == b"STORED\r\n":
        return True
    if line == b"NOT_STORED\r\n":
        return False
    raise MemcachedError(f"unexpected reply to set: {line[:100]!r}")


def _check_key(key: str) -> bytes:
    raw = key.encode()
    if not raw or len(raw) > 250 or any(c <= 32 or c == 127 for c in raw):
        raise ValueError(f"invalid memcached key {key!r}")
    return raw


class MemcachedCache:
    """The results-cache backend over one or more memcached servers."""

    name = "memcached"

    def __init__(self, addresses: Sequence[str], *, timeout: float = 0.2,
                 max_idle_connections: int = 100, max_item_size: int = 1 << 20) -> None:
        if not addresses:
            raise ValueError("memcached needs at least one address")
        self.servers = [_Server(a, timeout, max_idle_connections) for a in addresses]
        self.max_item_size = max_item_size

    def _server(self, key: bytes) -> _Server:
        return self.servers[zlib.crc32(key) % len(self.servers)]

    async def get(self, key: str) -> bytes | None:
        raw = _check_key(key)
        try:
            return await self._server(raw).call(b"get " + raw + b"\r\n", _read_get)  # type: ignore[return-value]
        except (OSError, TimeoutError, MemcachedError, asyncio.IncompleteReadError) as e:
            metrics.RESULTS_CACHE_BACKEND_ERRORS.labels(self.name, "get").inc()
            log.warning("memcached get failed: %r", e)
            return None

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        raw = _check_key(key)
        if len(value) > self.max_item_size:
            return
        exp = int(ttl) if ttl > 0 else 0
        if exp > _MAX_RELATIVE_TTL:
            exp = int(time.time()) + exp
        head = b"set %s 0 %d %d\r\n" % (raw, exp, len(value))
        try:
            await self._server(raw).call(head + value + b"\r\n", _read_set)
        except (OSError, TimeoutError, MemcachedError, asyncio.IncompleteReadError) as e:
            metrics.RESULTS_CACHE_BACKEND_ERRORS.labels(self.name, "set").inc()
            log.warning("memcached set failed: %r", e)

    async def close(self) -> None:
        for s in self.servers:
            s.close()
