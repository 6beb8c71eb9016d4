"""Where the frontend sends queries: the querier's Prometheus API, in-process or over HTTP.

Both are one :class:`HTTPDownstream` over an ``httpx.AsyncClient``: in a single
process the client's transport calls the query API's ASGI app directly (no
socket); as its own process it talks HTTP to ``-query-frontend.downstream-url``,
which may list several queriers separated by commas: requests go round-robin
over them (Mimir's frontend spreads work over all its queriers too), and a
querier that cannot be connected to is skipped at once for the next one, then
left out of the rotation for ``DOWN_COOLDOWN_S`` (unless all are down).
Queries are reads, so retrying is safe; we retry only what cannot have been a
slow query — connection failures and 502/504 (or 503 that is not a query
timeout) — with a short backoff, up to ``-query-frontend.max-retries-per-request``.
Failing over to a querier not yet tried for this request is not a retry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
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
from tidewell.util.asgi_call import asgi_request
from tidewell.util.priority import WRITES

__all__ = ["DOWN_COOLDOWN_S", "HTTPDownstream", "asgi_downstream", "http_downstream",
           "parse_downstream_urls"]

log = logging.getLogger("tidewell.frontend.downstream")

API_PREFIX = "/prometheus/api/v1"
_KEEP_RESPONSE_HEADERS = ("content-type", "cache-control")
_RETRYABLE_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError,
                     httpx.ReadError, httpx.WriteError, httpx.PoolTimeout)
# The request never reached the querier: another one can take it at once.
_CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout)
DOWN_COOLDOWN_S = 5.0
"""How long a querier that refused a connection stays out of the rotation."""


def parse_downstream_urls(value: str) -> list[str]:
    """``-query-frontend.downstream-url``: one URL or several separated by commas."""
    return [u.strip().rstrip("/") for u in value.split(",") if u.strip()]


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
    """A :class:`~tidewell.frontend.request.Handler` over httpx clients, plus raw proxying.

    ``client`` is one downstream or a sequence of them (one per querier), used round-robin.
    """

    def __init__(self, client: httpx.AsyncClient | Sequence[httpx.AsyncClient], *,
                 prefix: str = API_PREFIX, max_retries: int = 0, backoff: float = 0.05,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.clients = [client] if isinstance(client, httpx.AsyncClient) else list(client)
        if not self.clients:
            raise ValueError("HTTPDownstream needs at least one client")
        self.prefix = prefix
        self.max_retries = max_retries
        self.backoff = backoff
        self._clock = clock
        self._next = 0
        self._down_until = [0.0] * len(self.clients)
        self.asgi_app: ASGIApp | None = None
        """Set for the in-process querier: requests go straight into its ASGI app."""

    @property
    def client(self) -> httpx.AsyncClient:
        """The first downstream (the only one in single-process mode)."""
        return self.clients[0]

    def _pick(self, tried: set[int]) -> int:
        """Next index round-robin, preferring untried and not recently down downstreams."""
        n, now = len(self.clients), self._clock()
        order = [(self._next + i) % n for i in range(n)]
        choice = next((i for i in order if i not in tried and self._down_until[i] <= now),
                      None)
        if choice is None:
            choice = next((i for i in order if i not in tried), order[0])
        self._next = (choice + 1) % n
        return choice

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
        if self.asgi_app is not None:  # in process: one call, nothing to retry
            u = httpx.URL(url) if isinstance(url, str) else url
            status, headers, body = await asgi_request(
                self.asgi_app, method, u.path, query=u.query, host="querier",
                headers=kw.get("headers"), body=kw.get("content") or b"")  # type: ignore[arg-type]
            await WRITES.step_aside()  # before the merge and caching: pushes in flight first
            metrics.RETRIES.observe(0)
            return QueryResponse(status, body, {k: headers[k] for k in _KEEP_RESPONSE_HEADERS
                                                if k in headers})
        attempt = 0
        tried: set[int] = set()
        while True:
            idx = self._pick(tried)
            tried.add(idx)
            try:
                r = await self.clients[idx].request(method, url, **kw)  # type: ignore[arg-type]
                resp = QueryResponse(r.status_code, r.content, {
                    k: r.headers[k] for k in _KEEP_RESPONSE_HEADERS if k in r.headers})
                if attempt >= self.max_retries or not _retryable(resp):
                    metrics.RETRIES.observe(attempt)
                    return resp
                log.debug("retrying downstream request after status %d", r.status_code)
            except _RETRYABLE_ERRORS as e:
                if isinstance(e, _CONNECT_ERRORS):
                    self._down_until[idx] = self._clock() + DOWN_COOLDOWN_S
                    if len(tried) < len(self.clients):  # fail over now, not a retry
                        log.debug("downstream %d unreachable (%r), trying the next", idx, e)
                        continue
                if attempt >= self.max_retries:
                    metrics.RETRIES.observe(attempt)
                    raise DownstreamUnavailableError(f"querier unavailable: {e!r}") from e
                log.debug("retrying downstream request after %r", e)
            attempt += 1
            tried.clear()  # a retry may go anywhere again
            await asyncio.sleep(self.backoff * 2 ** (attempt - 1))

    async def close(self) -> None:
        for c in self.clients:
            await c.aclose()


def asgi_downstream(app: ASGIApp, *, prefix: str = API_PREFIX) -> HTTPDownstream:
    """The query API's ASGI app called in-process (``asgi_request``: no HTTP client; the
    httpx client over its ASGI transport stays for ``client`` users)."""
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    ds = HTTPDownstream(httpx.AsyncClient(transport=transport, base_url="http://querier",
                                          timeout=None), prefix=prefix)
    ds.asgi_app = app
    return ds


def http_downstream(url: str, *, timeout: float, max_retries: int,
                    prefix: str = API_PREFIX) -> HTTPDownstream:
    """Queriers in other processes at ``url`` (comma-separated for several)."""
    urls = parse_downstream_urls(url)
    if not urls:
        raise ValueError("-query-frontend.downstream-url has no URL")
    clients = [httpx.AsyncClient(
        base_url=u, timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20))
        for u in urls]
    return HTTPDownstream(clients, prefix=prefix, max_retries=max_retries)
