"""Where the frontend sends queries: the querier's Prometheus API, in-process or over HTTP.

Both are one :class:`HTTPDownstream` over an ``httpx.AsyncClient``: in a single
process the client's transport calls the query API's ASGI app directly (no
socket); as its own process it talks HTTP to ``-query-frontend.downstream-url``.
Queries are reads, so retrying is safe; we retry only what cannot have been a
slow query — connection failures and 502/504 (or 503 that is not a query
timeout) — with a short backoff, up to ``-query-frontend.max-retries-per-request``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from urllib.parse import urlencode

import httpx
from starlette.types import ASGIApp

from tidewell.frontend import metrics
from tidewell.frontend.request import (
    PASS_THROUGH_HEADERS,
    DownstreamUnavailableError,
    QueryRequest,
    QueryResponse,
)

__all__ = ["HTTPDownstream", "asgi_downstream", "http_downstream"]

log = logging.getLogger("tidewell.frontend.downstream")

API_PREFIX = "/prometheus/api/v1"
_KEEP_RESPONSE_HEADERS = ("content-type", "cache-control")
_RETRYABLE_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError,
                     httpx.ReadError, httpx.WriteError, httpx.PoolTimeout)


def _retryable(resp: QueryResponse) -> bool:
    if resp.status_code in (502, 504):
        return True
    if resp.status_code == 503:
        try:
            return resp.json().get("errorType") != "timeout"
        except ValueError:
            return True
    return False


class HTTPDownstream:
    """A :class:`~tidewell.frontend.request.Handler` over an httpx client, plus raw proxying."""

    def __init__(self, client: httpx.AsyncClient, *, prefix: str = API_PREFIX,
                 max_retries: int = 0, backoff: float = 0.05) -> None:
        self.client = client
        self.prefix = prefix
        self.max_retries = max_retries
        self.backoff = backoff

    async def do(self, request: QueryRequest) -> QueryResponse:
        headers = {k: v for k, v in request.headers.items() if k in PASS_THROUGH_HEADERS}
        headers["x-scope-orgid"] = request.tenant
        headers["content-type"] = "application/x-www-form-urlencoded"
        return await self._send("POST", f"{self.prefix}/{request.kind}", headers=headers,
                                content=urlencode(request.form()).encode())

    async def proxy(self, method: str, path: str, query: bytes, headers: Mapping[str, str],
                    body: bytes) -> QueryResponse:
        """Forward a request the frontend does not interpret (labels, series, …) unchanged."""
        url = httpx.URL(path=path, query=query)
        fwd = {k: v for k, v in headers.items() if k in PASS_THROUGH_HEADERS
               or k == "content-type"}
        return await self._send(method, url, headers=fwd, content=body or None)

    async def _send(self, method: str, url: str | httpx.URL, **kw: object) -> QueryResponse:
        attempt = 0
        while True:
            try:
                r = await self.client.request(method, url, **kw)  # type: ignore[arg-type]
                resp = QueryResponse(r.status_code, r.content, {
                    k: r.headers[k] for k in _KEEP_RESPONSE_HEADERS if k in r.headers})
                if attempt >= self.max_retries or not _retryable(resp):
                    metrics.RETRIES.observe(attempt)
                    return resp
                log.debug("retrying downstream request after status %d", r.status_code)
            except _RETRYABLE_ERRORS as e:
                if attempt >= self.max_retries:
                    metrics.RETRIES.observe(attempt)
                    raise DownstreamUnavailableError(f"querier unavailable: {e!r}") from e
                log.debug("retrying downstream request after %r", e)
            attempt += 1
            await asyncio.sleep(self.backoff * 2 ** (attempt - 1))

    async def close(self) -> None:
        await self.client.aclose()


def asgi_downstream(app: ASGIApp, *, prefix: str = API_PREFIX) -> HTTPDownstream:
    """The query API's ASGI app called in-process, through httpx's ASGI transport."""
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    return HTTPDownstream(httpx.AsyncClient(transport=transport, base_url="http://querier",
                                            timeout=None), prefix=prefix)


def http_downstream(url: str, *, timeout: float, max_retries: int,
                    prefix: str = API_PREFIX) -> HTTPDownstream:
    """A querier in another process at ``url``."""
    client = httpx.AsyncClient(
        base_url=url.rstrip("/"),
        timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20))
    return HTTPDownstream(client, prefix=prefix, max_retries=max_retries)
