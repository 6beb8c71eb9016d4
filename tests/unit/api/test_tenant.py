"""Tenant resolution: X-Scope-OrgID required and validated, or 'anonymous' without multi-tenancy."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tidewell.api.server import build_app


async def echo_tenant(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.state.tenant)


def get(multitenancy: bool, path: str, headers: dict[str, str],
        no_auth_tenant: str = "anonymous") -> httpx.Response:
    routes = [Route("/api/v1/push", echo_tenant, methods=["POST"]),
              Route("/prometheus/api/v1/query", echo_tenant)]
    app = build_app(routes, multitenancy_enabled=multitenancy, no_auth_tenant=no_auth_tenant)

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tw") as c:
            if path.endswith("push"):
                return await c.post(path, headers=headers)
            return await c.get(path, headers=headers)

    return asyncio.run(call())


def test_missing_org_id_is_401() -> None:
    r = get(True, "/api/v1/push", {})
    assert r.status_code == 401
    assert r.json()["error"] == "no org id"


def test_org_id_reaches_the_handler() -> None:
    r = get(True, "/prometheus/api/v1/query", {"X-Scope-OrgID": "team-a"})
    assert r.status_code == 200 and r.text == "team-a"


@pytest.mark.parametrize(
    ("tenant", "message"),
    [("..", '"." or ".."'), ("a/b", "unsupported character '/'"), ("x" * 151, "too long"),
     ("__mimir_cluster", 'tenant ID "__mimir_cluster" is reserved'),
     ("a|b", "unsupported character '|'"), ("", "empty")],
)
def test_invalid_tenant_is_400(tenant: str, message: str) -> None:
    r = get(True, "/api/v1/push", {"X-Scope-OrgID": tenant})
    assert r.status_code == 400
    assert message in r.json()["error"]


def test_without_multitenancy_everything_is_anonymous() -> None:
    r = get(False, "/api/v1/push", {"X-Scope-OrgID": "ignored"})
    assert r.text == "anonymous"


def test_without_multitenancy_the_no_auth_tenant_is_used() -> None:
    r = get(False, "/api/v1/push", {}, no_auth_tenant="fake")
    assert r.text == "fake"


def test_longest_valid_tenant_is_accepted() -> None:
    tenant = "a!-_.*'()Z" * 15
    r = get(True, "/api/v1/push", {"X-Scope-OrgID": tenant})
    assert r.status_code == 200 and r.text == tenant
