"""Rule queries through the query-frontend's Prometheus API (Mimir's remote evaluation).

Every rule query is ``POST /prometheus/api/v1/query`` with the tenant in
``X-Scope-OrgID``: to ``-ruler.query-frontend.address`` over HTTP, or, in one
process, to the in-process frontend through an ASGI transport — the same
request, the same frontend, no socket. A rule that reads what an earlier rule
of its group just wrote asks for ``X-Read-Consistency: strong``. Every query asks
for ``X-Tidewell-Histograms: exact``: a native histogram result comes back as the
histogram itself (schema, spans, counts), which a recording rule writes back as is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import httpx
from starlette.types import ASGIApp

from tidewell.api.consistency import STRONG
from tidewell.api.prometheus.histogram_json import histogram_from_exact
from tidewell.model import Histogram
from tidewell.model.errors import TidewellError

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


class RuleQuerier:
    """Instant queries for one ruler; ``close`` releases the HTTP client."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    @classmethod
    def over_http(cls, address: str, timeout: float) -> RuleQuerier:
        return cls(httpx.AsyncClient(base_url=address.rstrip("/"), timeout=timeout))

    @classmethod
    def in_process(cls, app: ASGIApp, timeout: float) -> RuleQuerier:
        return cls(httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://query-frontend", timeout=timeout))

    async def _query(self, tenant: str, expr: str, ts: float, strong: bool) -> dict:
        headers = {"X-Scope-OrgID": tenant, "X-Tidewell-Histograms": "exact"}
        if strong:
            headers["X-Read-Consistency"] = STRONG
        try:
            resp = await self.client.post("/prometheus/api/v1/query",
                                          data={"query": expr, "time": f"{ts:.3f}"},
                                          headers=headers)
        except httpx.HTTPError as exc:
            raise QueryError(f"query-frontend unreachable: {type(exc).__name__}: {exc}") from None
        try:
            body = resp.json()
        except ValueError:
            raise QueryError(f"query-frontend answered {resp.status_code}: "
                             f"{resp.text[:200]}") from None
        if resp.status_code != 200 or body.get("status") != "success":
            raise QueryError(body.get("error") or f"query failed with {resp.status_code}")
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
        await self.client.aclose()
