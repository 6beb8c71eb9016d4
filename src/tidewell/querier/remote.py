"""A ``Queryable`` in another process: the querier's client for ingesters and store-gateways.

``RemoteQueryable(url)`` speaks the internal read protocol served by
``tidewell.api.internal`` (protobuf bodies, series as columns, see ``wire``).
It is synchronous because the PromQL engine calls ``select`` from a worker thread.

Failure handling, all bounded by one deadline per call (``timeout_s``):

* retries: these reads are idempotent, so connection errors, 429 and 5xx are
  retried with capped exponential backoff and jitter, at most ``retries`` times;
  4xx answers are the caller's fault and surface at once.
* timeouts: every attempt gets only what is left of the deadline.
* cancellation: ``close()`` shuts the sockets of in-flight requests down, so a
  thread blocked waiting for an answer wakes up at once with
  ``RemoteQueryCancelledError``; later calls fail the same way.

Errors: ``RemoteQueryError`` (URL, cause, HTTP status if any) →
``RemoteQueryTimeoutError`` (also a ``TimeoutError``), ``RemoteQueryCancelledError``.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import httpx

from tidewell.model import (
    Exemplar,
    Labels,
    Matcher,
    MetricMetadata,
    Querier,
    SelectHints,
    SelectLimitError,
    Series,
)
from tidewell.model.errors import TidewellError
from tidewell.protocol.pb import internal_pb2 as pb
from tidewell.querier import metrics
from tidewell.querier.abortable import TrackingBackend, abortable_client
from tidewell.querier.meta_wire import (
    decode_exemplars_response,
    decode_metadata_response,
    encode_exemplars_request,
    encode_metadata_request,
)
from tidewell.querier.wire import XOR_CHUNKS, decode_series, encode_matchers

__all__ = [
    "CONTENT_TYPE",
    "RemoteClients",
    "RemoteQuerier",
    "RemoteQueryCancelledError",
    "RemoteQueryError",
    "RemoteQueryTimeoutError",
    "RemoteQueryable",
]

CONTENT_TYPE = "application/x-protobuf"
PATH_PREFIX = "/internal/v1/"
_log = logging.getLogger("tidewell.querier")
_RETRY_STATUS = frozenset({429, 500, 502, 503})  # 504 = the server's own deadline passed


class RemoteQueryError(TidewellError):
    """A call to another component failed; ``cause`` says why, ``status`` is the HTTP code.

    ``found_series``/``found_samples``: what a select refused at its samples hint found
    (``ErrorResponse``), 0 otherwise."""

    def __init__(self, url: str, cause: str | BaseException, status: int | None = None,
                 found_series: int = 0, found_samples: int = 0) -> None:
        self.url = url
        self.cause = cause
        self.status = status
        self.found_series = found_series
        self.found_samples = found_samples
        code = f" (HTTP {status})" if status is not None else ""
        super().__init__(f"{url}{code}: {cause}")

    @property
    def is_client(self) -> bool:
        """The request itself was bad (4xx other than 429): retrying elsewhere won't help."""
        return self.status is not None and 400 <= self.status < 500 and self.status != 429


class RemoteQueryTimeoutError(RemoteQueryError, TimeoutError):
    """The call's deadline passed (client side, or the server answered 504)."""


class RemoteQueryCancelledError(RemoteQueryError):
    """The queryable was closed while (or before) the call ran."""


class RemoteClients:
    """One ``RemoteQueryable`` per base URL, made on first use and closed together.

    At most ``max_clients`` are kept (peers come and go as rings change): past
    that the least recently used is dropped and retired, closing once its calls
    in flight have ended, so no query loses an answer to the eviction.
    """

    def __init__(self, factory: Callable[[str], RemoteQueryable], max_clients: int = 256) -> None:
        if max_clients < 1:
            raise ValueError("max_clients must be at least 1")
        self._factory = factory
        self.max_clients = max_clients
        self._clients: OrderedDict[str, RemoteQueryable] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._clients)

    def get(self, url: str) -> RemoteQueryable:
        evicted = []
        with self._lock:
            c = self._clients.get(url)
            if c is None:
                c = self._clients[url] = self._factory(url)
                while len(self._clients) > self.max_clients:
                    evicted.append(self._clients.popitem(last=False)[1])
            else:
                self._clients.move_to_end(url)
        for old in evicted:
            old.retire()
        return c

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), OrderedDict()
        for c in clients:
            c.close()


class RemoteQueryable:
    """``Queryable`` over HTTP: ``querier(tenant, mint, maxt)`` answers from ``base_url``.

    ``client``: share one ``httpx.Client`` between many remotes; then ``close()``
    only stops new calls, in-flight ones end with the caller's client.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 30.0,
        retries: int = 2,
        backoff_s: float = 0.05,
        max_backoff_s: float = 1.0,
        encoding: int = XOR_CHUNKS,
        limit: int = 0,
        max_series: int = 0,
        client: httpx.Client | None = None,
        max_connections: int = 16,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.encoding = encoding
        self.limit = limit
        self.max_series = max_series
        self._backend: TrackingBackend | None = None
        if client is None:
            client, self._backend = abortable_client(max_connections)
            self._owns_client = True
        else:
            self._owns_client = False
        self._client = client
        self._closed = False
        self._closing = threading.Event()  # wakes retry backoffs on close()
        self._inflight = 0
        self._retired = False
        self._inflight_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RemoteQueryable({self.base_url!r})"

    def querier(self, tenant: str, mint: int, maxt: int) -> Querier:
        return RemoteQuerier(self, tenant, mint, maxt)

    def blocks_querier(
        self, tenant: str, mint: int, maxt: int, block_ids: Sequence[str]
    ) -> RemoteQuerier:
        """A querier over just ``block_ids`` of a remote store-gateway."""
        return RemoteQuerier(self, tenant, mint, maxt, block_ids)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Abort in-flight calls and refuse new ones."""
        self._closed = True
        self._closing.set()
        if self._backend is not None:
            self._backend.abort()
        if self._owns_client:
            self._client.close()

    def retire(self) -> None:
        """Close once the calls in flight have ended (now if there are none)."""
        with self._inflight_lock:
            self._retired = True
            idle = self._inflight == 0
        if idle:
            self.close()

    def __enter__(self) -> RemoteQueryable:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, op: str, tenant: str, body: bytes) -> bytes:
        """POST ``body`` to ``/internal/v1/<op>`` with retries; the answer's bytes."""
        with self._inflight_lock:
            self._inflight += 1
        try:
            return self._call(op, tenant, body)
        finally:
            with self._inflight_lock:
                self._inflight -= 1
                last = self._retired and self._inflight == 0
            if last:
                self.close()

    def _call(self, op: str, tenant: str, body: bytes) -> bytes:
        url = f"{self.base_url}{PATH_PREFIX}{op}"
        deadline = time.monotonic() + self.timeout_s
        headers = {"X-Scope-OrgID": tenant, "Content-Type": CONTENT_TYPE}
        attempt = 0
        while True:
            if self._closed:
                raise RemoteQueryCancelledError(url, "client closed")
            left = deadline - time.monotonic()
            if left <= 0:
                raise RemoteQueryTimeoutError(url, f"deadline of {self.timeout_s}s exceeded")
            start = time.perf_counter()
            status = "error"
            try:
                resp = self._client.post(url, content=body, headers=headers, timeout=left)
                status = str(resp.status_code)
            except httpx.TimeoutException as exc:
                status = "timeout"
                raise RemoteQueryTimeoutError(url, exc) from exc
            except (httpx.TransportError, RuntimeError) as exc:
                # RuntimeError: httpx refuses requests on a client closed meanwhile.
                if self._closed:
                    raise RemoteQueryCancelledError(url, "client closed") from exc
                err = RemoteQueryError(url, exc)
            else:
                if resp.status_code == 200:
                    return resp.content
                err_cls = RemoteQueryTimeoutError if resp.status_code == 504 else RemoteQueryError
                why = _error_body(resp)
                err = err_cls(url, why.message or resp.reason_phrase, resp.status_code,
                              why.found_series, why.found_samples)
                if resp.status_code not in _RETRY_STATUS:
                    raise err
            finally:
                metrics.REQUEST_DURATION.labels(op, status).observe(time.perf_counter() - start)
            if attempt >= self.retries:
                raise err
            attempt += 1
            metrics.RETRIES.labels(op).inc()
            pause = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
            pause *= random.uniform(0.5, 1.0)
            _log.debug("retrying %s in %.3fs after: %s", url, pause, err)
            self._closing.wait(max(0.0, min(pause, deadline - time.monotonic())))

    def exemplars(
        self, tenant: str, start: int, end: int, matcher_sets: Sequence[Sequence[Matcher]]
    ) -> list[tuple[Labels, list[Exemplar]]]:
        """The remote ingester's exemplars of ``tenant`` (``/internal/v1/exemplars``)."""
        data = self.call("exemplars", tenant, encode_exemplars_request(start, end, matcher_sets))
        try:
            return decode_exemplars_response(data)
        except Exception as exc:  # DecodeError
            raise RemoteQueryError(self.base_url, f"bad exemplars answer: {exc}") from exc

    def metadata(self, tenant: str, limit: int = -1, limit_per_metric: int = -1,
                 metric: str = "") -> list[MetricMetadata]:
        """The remote ingester's metric metadata of ``tenant`` (``/internal/v1/metadata``)."""
        data = self.call("metadata", tenant,
                         encode_metadata_request(limit, limit_per_metric, metric))
        try:
            return decode_metadata_response(data)
        except Exception as exc:
            raise RemoteQueryError(self.base_url, f"bad metadata answer: {exc}") from exc

    async def wait_for_offset(
        self, end_offset: int, timeout_s: float, *, client: httpx.AsyncClient | None = None
    ) -> None:
        """Return once the remote ingester consumed every record below ``end_offset``.

        Raises ``RemoteQueryTimeoutError`` when it did not within ``timeout_s`` (504),
        ``RemoteQueryError`` when the wait failed otherwise (503) or the server
        consumes no partition (501).
        Cancelling the awaiting task aborts the request.
        """
        url = f"{self.base_url}{PATH_PREFIX}wait_for_offset"
        if self._closed:
            raise RemoteQueryCancelledError(url, "client closed")
        body = pb.WaitForOffsetRequest(
            end_offset=end_offset, timeout_seconds=timeout_s
        ).SerializeToString()
        own = client is None
        ac = httpx.AsyncClient() if client is None else client
        try:
            # The server gives up after timeout_s; allow it a little longer to say so.
            resp = await ac.post(url, content=body, timeout=timeout_s + 2.0,
                                 headers={"Content-Type": CONTENT_TYPE})
        except httpx.TimeoutException as exc:
            raise RemoteQueryTimeoutError(url, exc) from exc
        except httpx.TransportError as exc:
            raise RemoteQueryError(url, exc) from exc
        finally:
            if own:
                await ac.aclose()
        if resp.status_code == 200:
            return
        err_cls = RemoteQueryTimeoutError if resp.status_code == 504 else RemoteQueryError
        raise err_cls(url, _error_body(resp).message or resp.reason_phrase, resp.status_code)


def _error_body(resp: httpx.Response) -> pb.ErrorResponse:
    """The ``ErrorResponse`` of a failed call (a text body becomes its message)."""
    if resp.headers.get("content-type", "").startswith(CONTENT_TYPE):
        with contextlib.suppress(Exception):  # a garbled error body is still an error
            return pb.ErrorResponse.FromString(resp.content)
    return pb.ErrorResponse(message=resp.text[:200])


class RemoteQuerier:
    """One tenant and time range on a remote component (a ``Querier``).

    ``block_ids`` (store-gateways only) restricts the search to those blocks; the
    ``*_blocks`` methods also return which of them the store-gateway searched.
    """

    def __init__(self, remote: RemoteQueryable, tenant: str, mint: int, maxt: int,
                 block_ids: Sequence[str] = ()) -> None:
        self.remote, self.tenant, self.mint, self.maxt = remote, tenant, mint, maxt
        self.block_ids = list(block_ids)

    def _request(self, matchers: Iterable[Matcher], **kw: Any) -> bytes:
        req = pb.ReadRequest(mint=self.mint, maxt=self.maxt, limit=self.remote.limit,
                             block_ids=self.block_ids, **kw)
        encode_matchers(list(matchers), req)
        return req.SerializeToString()

    def select_blocks(self, matchers: Sequence[Matcher], hints: SelectHints | None = None
                      ) -> tuple[list[Series], list[str]]:
        """``select`` and the blocks searched; ``hints.max_series`` and ``max_samples``
        travel with the request so the remote stops before decoding (its 422 becomes
        ``SelectLimitError``, for samples with the series and samples it found)."""
        hinted = hints.max_series if hints is not None else 0
        max_samples = hints.max_samples if hints is not None else 0
        limits = [x for x in (self.remote.max_series, hinted) if x > 0]
        body = self._request(matchers, max_series=min(limits, default=0),
                             max_samples=max_samples, encoding=self.remote.encoding)
        try:
            data = self.remote.call("select", self.tenant, body)
        except RemoteQueryError as exc:
            if exc.status == 422 and max_samples and exc.found_samples:
                raise SelectLimitError("samples", max_samples, exc.found_series,
                                       exc.found_samples) from exc
            if exc.status == 422 and hinted and (not self.remote.max_series
                                                 or hinted <= self.remote.max_series):
                raise SelectLimitError("series", hinted) from exc
            raise
        try:
            resp = pb.SelectResponse.FromString(data)
            return decode_series(resp.series), list(resp.queried_blocks)
        except Exception as exc:  # DecodeError, CorruptResponseError
            raise RemoteQueryError(self.remote.base_url, f"bad select answer: {exc}") from exc

    def select(self, matchers: Sequence[Matcher],
               hints: SelectHints | None = None) -> list[Series]:
        return self.select_blocks(matchers, hints)[0]

    def label_names_blocks(self, matchers: Sequence[Matcher] = ()) -> tuple[list[str], list[str]]:
        return self._strings(self.remote.call("label_names", self.tenant,
                                              self._request(matchers)))

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return self.label_names_blocks(matchers)[0]

    def label_values_blocks(
        self, name: str, matchers: Sequence[Matcher] = ()
    ) -> tuple[list[str], list[str]]:
        body = self._request(matchers, label_name=name)
        return self._strings(self.remote.call("label_values", self.tenant, body))

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        return self.label_values_blocks(name, matchers)[0]

    def _strings(self, data: bytes) -> tuple[list[str], list[str]]:
        try:
            resp = pb.LabelsResponse.FromString(data)
            return list(resp.values), list(resp.queried_blocks)
        except Exception as exc:
            raise RemoteQueryError(self.remote.base_url, f"bad labels answer: {exc}") from exc
