"""Rule queries through the query-frontend's Prometheus API (Mimir's remote evaluation).

Every rule query is ``POST /prometheus/api/v1/query`` with the tenant in
``X-Scope-OrgID``: to ``-ruler.query-frontend.address`` over HTTP, or, in one
process, to the in-process frontend's ASGI app — the same request, the same
frontend, no socket (and no HTTP client: building and reading an httpx request
cost as much CPU as a small rule's query). A rule that reads what an earlier rule
of its group just wrote asks for ``X-Read-Consistency: strong``. Every query asks
for ``X-Tidewell-Histograms: exact``: a native histogram result comes back as the
histogram itself (schema, spans, counts), which a recording rule writes back as is.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import orjson
from starlette.types import ASGIApp

from tidewell.api.consistency import STRONG
from tidewell.api.prometheus.histogram_json import histogram_from_exact
from tidewell.model import Histogram
from tidewell.model.errors import TidewellError
from tidewell.util.asgi_call import asgi_request

__all__ = ["QueryError", "RuleQuerier", "Sample", "SeriesSamples"]

Labels = tuple[tuple[str, str], ...]


class QueryError(TidewellError):
    """The query failed or its result cannot be used by a rule; the message says why."""


@dataclass(frozen=True, slots=True)
class Sample:
    labels: Labels  # sorted, __name__ included when the result has one
    value: float  # 0 for a histogram sample (Prometheus's ``F`` beside ``H``)
    histogram: Histogram | None = None


@dataclass(frozen=True, slots=True)
class SeriesSamples:
    labels: Labels
    points: list[tuple[float, float]]  # (seconds, value)


def _labels(metric: dict[str, str]) -> Labels:
    return tuple(sorted(metric.items()))


Post = Callable[[str, dict[str, str], dict[str, str]], Awaitable[tuple[int, bytes]]]
"""``(path, form, headers) -> (status, body)``: one POST to the query-frontend."""

QUERY_PATH = "/prometheus/api/v1/query"


def _asgi_post(app: ASGIApp, timeout: float) -> Post:
    """POSTs straight into ``app`` as an ASGI server would, without an HTTP client."""

    async def post(path: str, form: dict[str, str], headers: dict[str, str]
                   ) -> tuple[int, bytes]:
        try:
            async with asyncio.timeout(timeout):
                status, _, body = await asgi_request(
                    app, "POST", path, body=urlencode(form).encode(), host="query-frontend",
                    headers={"content-type": "application/x-www-form-urlencoded", **headers})
        except TimeoutError:
            raise QueryError(f"query-frontend did not answer within {timeout:g}s") from None
        return status, body

    return post


def _http_post(client: httpx.AsyncClient) -> Post:
    async def post(path: str, form: dict[str, str], headers: dict[str, str]
                   ) -> tuple[int, bytes]:
        try:
            resp = await client.post(path, data=form, headers=headers)
        except httpx.HTTPError as exc:
            raise QueryError(
                f"query-frontend unreachable: {type(exc).__name__}: {exc}") from None
        return resp.status_code, resp.content

    return post


class RuleQuerier:
    """Instant queries for one ruler; ``close`` releases the HTTP client, if any."""

    def __init__(self, post: Post, client: httpx.AsyncClient | None = None) -> None:
        self._post = post
        self.client = client

    @classmethod
    def over_http(cls, address: str, timeout: float) -> RuleQuerier:
        client = httpx.AsyncClient(base_url=address.rstrip("/"), timeout=timeout)
        return cls(_http_post(client), client)

    @classmethod
    def in_process(cls, app: ASGIApp, timeout: float) -> RuleQuerier:
        return cls(_asgi_post(app, timeout))

    async def _query(self, tenant: str, expr: str, ts: float, strong: bool) -> dict:
        headers = {"X-Scope-OrgID": tenant, "X-Tidewell-Histograms": "exact"}
        if strong:
            headers["X-Read-Consistency"] = STRONG
        status, content = await self._post(QUERY_PATH, {"query": expr, "time": f"{ts:.3f}"},
                                           headers)
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError:
            raise QueryError(f"query-frontend answered {status}: "
                             f"{content[:200].decode(errors='replace')}") from None
        if status != 200 or not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else None
            raise QueryError(error or f"query failed with {status}")
        return body["data"]

    async def instant(self, tenant: str, expr: str, ts: float, *, strong: bool = False
                      ) -> list[Sample]:
        """The rule's result at ``ts``: a vector (a scalar becomes one unlabelled sample)."""
        data = await self._query(tenant, expr, ts, strong)
        kind = data.get("resultType")
        if kind == "scalar":
            return [Sample((), float(data["result"][1]))]
        if kind != "vector":
            raise QueryError("rule result is not a vector or scalar")
        out = []
        for s in data["result"]:
            if "value" in s:
                out.append(Sample(_labels(s["metric"]), float(s["value"][1])))
                continue
            exact = s["histogram"][1].get("exact")
            if exact is None:
                raise QueryError("the query-frontend answered a native histogram without its "
                                 "exact form (X-Tidewell-Histograms: exact)")
            out.append(Sample(_labels(s["metric"]), 0.0, histogram_from_exact(exact)))
        return out

    async def series(self, tenant: str, expr: str, ts: float) -> list[SeriesSamples]:
        """A range-selector query's raw samples (``ALERTS_FOR_STATE{…}[1h]``)."""
        data = await self._query(tenant, expr, ts, strong=True)
        if data.get("resultType") != "matrix":
            raise QueryError(f"expected a matrix for {expr}")
        return [SeriesSamples(_labels(s["metric"]),
                              [(float(t), float(v)) for t, v in s.get("values", [])
                               if not math.isnan(float(v))])
                for s in data["result"]]

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()
