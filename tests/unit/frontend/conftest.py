"""A deterministic downstream for the frontend's unit tests.

``MatrixDownstream`` answers range queries as a querier would for two series
whose value at ``t`` is a function of ``t`` alone — so any split or cached
answer must equal the unsplit one — and records every request it saw.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tidewell.frontend.request import RANGE, QueryRequest, QueryResponse


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def matrix_for(req: QueryRequest) -> dict[str, Any]:
    result = []
    for inst in ("a", "b"):
        values = []
        t = req.start
        while t <= req.end:
            values.append([t // 1000 if t % 1000 == 0 else t / 1000,
                           f"{(t // 1000) % 977 + (inst == 'b')}"])
            t += req.step
        if values:
            result.append({"metric": {"__name__": "m", "inst": inst}, "values": values})
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


class MatrixDownstream:
    def __init__(self, delay: float = 0.0) -> None:
        self.requests: list[QueryRequest] = []
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0

    async def do(self, request: QueryRequest) -> QueryResponse:
        self.requests.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if request.kind != RANGE:
                return QueryResponse.from_json({"status": "success", "data": {
                    "resultType": "vector", "result": []}})
            return QueryResponse.from_json(matrix_for(request))
        finally:
            self.in_flight -= 1


@pytest.fixture
def downstream() -> MatrixDownstream:
    return MatrixDownstream()


def range_request(start_s: float, end_s: float, step_s: float, query: str = "m",
                  tenant: str = "t1", headers: dict[str, str] | None = None) -> QueryRequest:
    return QueryRequest(RANGE, tenant, query, round(start_s * 1000), round(end_s * 1000),
                        round(step_s * 1000), headers or {})
