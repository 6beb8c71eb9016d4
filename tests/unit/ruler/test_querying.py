"""The ruler's in-process query client: a POST straight into an ASGI app (here the real
Prometheus query API over a small dataset), its answers and its errors as an HTTP
client would see them."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from starlette.routing import Mount
from starlette.types import Message, Receive, Scope, Send

from tests.support.memory import DictQuerier
from tidewell.api.prometheus.routes import query_routes
from tidewell.api.server import build_app
from tidewell.model import Labels
from tidewell.querier.config import QuerierConfig
from tidewell.ruler.querying import QueryError, RuleQuerier

T_S = 1_000
DATA = {Labels([("__name__", "up"), ("job", f"j{i}")]):
        (np.arange(0, T_S * 1000 + 1, 15_000, dtype=np.int64), np.full(67, float(i)))
        for i in range(3)}


class _Data:
    def querier(self, tenant: str, mint: int, maxt: int) -> DictQuerier:
        return DictQuerier(DATA, mint, maxt)


def _querier(timeout: float = 30.0) -> RuleQuerier:
    api = Mount("/prometheus", routes=query_routes(_Data(), QuerierConfig()))
    return RuleQuerier.in_process(build_app([api], multitenancy_enabled=True), timeout)


def test_vector_and_scalar_answers() -> None:
    async def run() -> tuple[list, list]:
        q = _querier()
        try:
            return (await q.instant("t", "sum by (job) (up)", T_S),
                    await q.instant("t", "1 + 1", T_S))
        finally:
            await q.close()

    vec, scalar = asyncio.run(run())
    assert [(s.labels, s.value) for s in vec] == [((("job", f"j{i}"),), float(i))
                                                  for i in range(3)]
    assert [(s.labels, s.value) for s in scalar] == [((), 2.0)]


@pytest.mark.parametrize(("expr", "message"), [
    ("sum(", "unexpected end of input"),
    ('label_replace(up, "job", "x", "", "")', "same labelset"),
])
def test_the_apis_error_is_the_rules_error(expr: str, message: str) -> None:
    async def run() -> None:
        q = _querier()
        try:
            await q.instant("t", expr, T_S)
        finally:
            await q.close()

    with pytest.raises(QueryError, match=message):
        asyncio.run(run())


def test_an_app_that_does_not_answer_times_out() -> None:
    async def silent(scope: Scope, receive: Receive, send: Send) -> None:
        message: Message = await receive()
        assert message["type"] == "http.request" and b"query=up" in message["body"]
        await asyncio.sleep(60)

    async def run() -> None:
        await RuleQuerier.in_process(silent, 0.2).instant("t", "up", T_S)

    with pytest.raises(QueryError, match=r"did not answer within 0\.2s"):
        asyncio.run(run())
