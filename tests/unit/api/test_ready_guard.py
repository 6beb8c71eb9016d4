"""Internal routes answer 503 while the component replays; other routes stay open."""

from __future__ import annotations

import asyncio

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tidewell.api.ready_guard import ReadyGuard


async def ok(_: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def test_internal_routes_wait_for_ready() -> None:
    state = {"ready": False}
    app = ReadyGuard(
        Starlette(routes=[Route("/internal/v1/select", ok, methods=["POST"]), Route("/ready", ok)]),
        lambda: (state["ready"], "catching up"),
    )

    async def scenario() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tw") as c:
            first = await c.post("/internal/v1/select")
            assert "catching up" in first.text
            other = await c.get("/ready")
            state["ready"] = True
            after = await c.post("/internal/v1/select")
            return [first.status_code, other.status_code, after.status_code]

    assert asyncio.run(scenario()) == [503, 200, 200]
