"""An ``httpx.Client`` whose in-flight requests another thread can abort.

``socket.close()`` from another thread does not interrupt a blocked ``recv`` on
Linux; ``shutdown`` does. So the connection pool gets a network backend that
remembers its sockets, and the client a transport of our own over that pool
(httpx's ``HTTPTransport`` offers no public way to choose the backend).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import weakref
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

__all__ = ["TrackingBackend", "abortable_client"]


class TrackingBackend(httpcore.SyncBackend):
    """Remembers every socket it opens so ``abort`` can wake threads blocked on them."""

    def __init__(self) -> None:
        self._socks: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._lock = threading.Lock()
        self.aborted = False

    def connect_tcp(self, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        stream = super().connect_tcp(*args, **kwargs)
        sock = stream.get_extra_info("socket")
        with self._lock:
            if self.aborted:
                stream.close()
                raise httpcore.ConnectError("client closed")
            if sock is not None:
                self._socks.add(sock)
        return stream

    def abort(self) -> None:
        """Shut every open socket down and refuse new connections."""
        with self._lock:
            self.aborted = True
            socks = list(self._socks)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def _as_httpx_errors(request: httpx.Request) -> Iterator[None]:
    """httpcore's transport errors as the httpx errors of the same name callers catch."""
    try:
        yield
    except httpcore.TimeoutException as exc:
        cls = getattr(httpx, type(exc).__name__, httpx.TimeoutException)
        raise cls(str(exc), request=request) from exc
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol,
            httpcore.ProxyError) as exc:
        cls = getattr(httpx, type(exc).__name__, httpx.TransportError)
        raise cls(str(exc), request=request) from exc


class _Body(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes], request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors(self._request):
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class _PoolTransport(httpx.BaseTransport):
    def __init__(self, pool: httpcore.ConnectionPool) -> None:
        self._pool = pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        req = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port,
                             target=url.raw_path),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors(request):
            resp = self._pool.handle_request(req)
        return httpx.Response(status_code=resp.status, headers=resp.headers,
                              stream=_Body(resp.stream, request), extensions=resp.extensions)

    def close(self) -> None:
        self._pool.close()


def abortable_client(max_connections: int) -> tuple[httpx.Client, TrackingBackend]:
    """A client (no timeout of its own) and the backend whose ``abort`` stops its requests."""
    backend = TrackingBackend()
    pool = httpcore.ConnectionPool(max_connections=max_connections,
                                   max_keepalive_connections=max_connections,
                                   keepalive_expiry=30.0, network_backend=backend)
    return httpx.Client(transport=_PoolTransport(pool), timeout=None), backend
