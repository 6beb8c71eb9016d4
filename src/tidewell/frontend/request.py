"""The frontend's contract: a parsed query request, its response, and one-method handlers.

Like Mimir's ``querymiddleware``: a :class:`Handler` answers a request with
``await do(request)``; a middleware wraps the next handler and is itself a
handler. Requests are immutable; middlewares derive new ones with
:meth:`QueryRequest.with_start_end`. Responses keep the downstream's bytes and
parse them only when a middleware needs to look inside (merge, cache).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from tidewell.model.errors import TidewellError

__all__ = [
    "INSTANT",
    "PASS_THROUGH_HEADERS",
    "RANGE",
    "DownstreamUnavailableError",
    "FrontendError",
    "Handler",
    "Middleware",
    "QueryRequest",
    "QueryResponse",
    "TooManyOutstandingRequestsError",
    "error_response",
]

RANGE = "query_range"
INSTANT = "query"

PASS_THROUGH_HEADERS = (
    "x-scope-orgid",
    "x-read-consistency",
    "x-read-consistency-offsets",
    "cache-control",
    "authorization",
    "user-agent",
    "traceparent",
    "x-tidewell-histograms",
)
"""Request headers the frontend hands on to the downstream (lower case)."""


@dataclass(frozen=True, slots=True)
class QueryRequest:
    """A Prometheus range (``kind="query_range"``) or instant (``"query"``) query.

    Times are milliseconds; for an instant query ``start == end`` is the
    evaluation time and ``step`` is 0. ``params`` carries other parameters
    (``timeout``, ``stats``, …) unchanged to the downstream.
    """

    kind: str
    tenant: str
    query: str
    start: int
    end: int
    step: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)
    params: tuple[tuple[str, str], ...] = ()
    total_queries: int = 1
    """How many queries the received one was split into (a hint for sharding)."""

    def with_start_end(self, start: int, end: int) -> QueryRequest:
        return dataclasses.replace(self, start=start, end=end)

    def with_query(self, query: str) -> QueryRequest:
        return dataclasses.replace(self, query=query)

    def with_total_queries(self, n: int) -> QueryRequest:
        return dataclasses.replace(self, total_queries=n)

    def without_params(self, *names: str) -> QueryRequest:
        return dataclasses.replace(self, params=tuple(p for p in self.params
                                                      if p[0] not in names))

    def with_header(self, name: str, value: str) -> QueryRequest:
        return dataclasses.replace(self, headers={**self.headers, name.lower(): value})

    def param(self, name: str) -> str | None:
        """The first value of parameter ``name``, if any."""
        return next((v for k, v in self.params if k == name), None)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def form(self) -> list[tuple[str, str]]:
        """The request as Prometheus API form parameters."""
        out = [("query", self.query)]
        if self.kind == RANGE:
            out += [("start", _secs(self.start)), ("end", _secs(self.end)),
                    ("step", _secs(self.step))]
        else:
            out.append(("time", _secs(self.start)))
        return out + list(self.params)


def _secs(ms: int) -> str:
    return str(ms // 1000) if ms % 1000 == 0 else f"{ms / 1000:.3f}"


class QueryResponse:
    """A downstream answer: status, headers and the body (bytes, parsed lazily)."""

    __slots__ = ("_body", "_parsed", "headers", "status_code")

    def __init__(self, status_code: int, body: bytes | None,
                 headers: Mapping[str, str] | None = None,
                 parsed: dict[str, Any] | None = None) -> None:
        if body is None and parsed is None:
            raise ValueError("a response needs a body or a parsed document")
        self.status_code = status_code
        self._body = body
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}
        self._parsed = parsed

    @classmethod
    def from_json(cls, doc: dict[str, Any], status_code: int = 200,
                  headers: Mapping[str, str] | None = None) -> QueryResponse:
        """A response built by the frontend; encoded only if it is sent or stored."""
        return cls(status_code, None, headers, parsed=doc)

    @property
    def body(self) -> bytes:
        if self._body is None:
            self._body = orjson.dumps(self._parsed)
        return self._body

    def json(self) -> dict[str, Any]:
        if self._parsed is None:
            self._parsed = orjson.loads(self.body)
        return self._parsed

    @property
    def ok(self) -> bool:
        """2xx with ``"status":"success"`` — the only answers worth merging or caching."""
        if not 200 <= self.status_code < 300:
            return False
        try:
            return self.json().get("status") == "success"
        except orjson.JSONDecodeError:
            return False


class Handler(Protocol):
    async def do(self, request: QueryRequest) -> QueryResponse: ...


class Middleware(Protocol):
    def wrap(self, next: Handler) -> Handler: ...


class FrontendError(TidewellError):
    """An error the frontend itself raises; ``status``/``error_type`` as Prometheus names them."""

    status = 500
    error_type = "internal"


class TooManyOutstandingRequestsError(FrontendError):
    """The tenant's queue is full (``-querier.max-outstanding-requests-per-tenant``)."""

    status = 429
    error_type = "unavailable"


class ShuttingDownError(FrontendError):
    """The query-frontend is draining: the query was not started, another replica may run it."""

    status = 503
    error_type = "unavailable"


class DownstreamUnavailableError(FrontendError):
    status = 502
    error_type = "unavailable"


def error_response(status: int, error_type: str, message: str) -> QueryResponse:
    return QueryResponse.from_json(
        {"status": "error", "errorType": error_type, "error": message}, status)
