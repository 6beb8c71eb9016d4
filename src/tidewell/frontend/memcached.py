"""A small asyncio memcached client speaking the text protocol (``get``/``set``).

Written here rather than taken from PyPI: ``pymemcache`` is synchronous and
``aiomcache`` is thinly maintained, while the two commands the results cache
needs are a few lines of protocol. Keys are placed as dskit's
``MemcachedJumpHashSelector`` places them (servers in natural sort order, the
xxHash64 of the key, Lamping & Veach's jump consistent hash), so a Mimir and a
Tidewell sharing a memcached fleet agree on every key, and adding or removing the
last server moves only its share of keys. Each server allows at most
``max_idle_connections`` open connections; a caller waits for a free one within
the operation's deadline. A connection that errs or times out is closed, never
reused, and the error is counted and swallowed (a cache miss), as Mimir's cache
client does.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Sequence

import xxhash

from tidewell.frontend import metrics
from tidewell.model.errors import TidewellError

__all__ = ["MemcachedCache", "MemcachedError", "jump_hash", "natural_order"]

log = logging.getLogger("tidewell.frontend.memcached")

_MAX_RELATIVE_TTL = 30 * 86400  # memcached reads larger expirations as a Unix time
_U64 = (1 << 64) - 1
_DIGITS = re.compile(r"(\d+)")


def jump_hash(key: int, buckets: int) -> int:
    """Lamping & Veach's jump consistent hash of a 64-bit ``key`` into ``[0, buckets)``.

    Growing ``buckets`` from n to n+1 moves only 1/(n+1) of the keys, all to the new one.
    """
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * 2862933555777941757 + 1) & _U64
        j = int(float(b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return max(b, 0)


def natural_order(addresses: Sequence[str]) -> list[str]:
    """``addresses`` in natural sort order (``mc-2`` before ``mc-10``), as dskit keeps them."""
    def key(a: str) -> list[tuple[int, int, str]]:
        return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in _DIGITS.split(a) if p]
    return sorted(addresses, key=key)


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
        self.address = address
        self.idle: list[_Conn] = []
        self.slots = asyncio.Semaphore(max(1, max_idle))  # open connections, idle or busy

    async def _acquire(self) -> _Conn:
        while self.idle:
            reader, writer = self.idle.pop()
            if not writer.is_closing() and not reader.at_eof():
                return reader, writer
            writer.close()
        return await asyncio.open_connection(self.host, self.port)

    async def call(self, payload: bytes, read: object) -> object:
        """Send ``payload`` and parse the answer with ``read(reader)`` within the timeout."""
        async with asyncio.timeout(self.timeout), self.slots:
            conn = None
            try:
                conn = await self._acquire()
                conn[1].write(payload)
                await conn[1].drain()
                result = await read(conn[0])  # type: ignore[operator]
            except BaseException:
                if conn is not None:
                    conn[1].close()
                raise
            self.idle.append(conn)  # within the cap: the slot we hold is this connection's
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
        self.servers = [_Server(a, timeout, max_idle_connections)
                        for a in natural_order(addresses)]
        self.max_item_size = max_item_size

    def server_for(self, key: str) -> str:
        """The address that holds ``key``."""
        return self._server(key.encode()).address

    def _server(self, key: bytes) -> _Server:
        if len(self.servers) == 1:
            return self.servers[0]
        return self.servers[jump_hash(xxhash.xxh64_intdigest(key), len(self.servers))]

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
