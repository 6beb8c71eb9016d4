"""Resolve the tenant of each API request from ``X-Scope-OrgID``.

Pure ASGI (no request object) because it sits on the push hot path. With
multi-tenancy off every request belongs to ``-auth.no-auth-tenant`` (default
``anonymous``), as in Mimir.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from tidewell.api.asgi_errors import send_error
from tidewell.model.tenant import InvalidTenantIDError, validate_tenant_id

ANONYMOUS = "anonymous"
_ORG_HEADER = b"x-scope-orgid"
_TENANT_PATHS = (
    "/api/v1/push",
    "/otlp/",
    "/prometheus/api/v1/",
    "/api/v1/query",
    "/api/v1/series",
    "/api/v1/label",
    "/compactor/delete_tenant",
    "/compactor/jobs",
    "/ui/api/v1/",
    "/prometheus/config/v1/rules",
)
_OPEN_PATHS = ("/prometheus/api/v1/status/buildinfo", "/prometheus/api/v1/status/flags")
"""Process-wide status: no tenant needed (``/status/tsdb`` is per tenant)."""


class TenantMiddleware:
    def __init__(self, app: ASGIApp, *, multitenancy_enabled: bool,
                 no_auth_tenant: str = ANONYMOUS) -> None:
        self.app = app
        self.multitenancy_enabled = multitenancy_enabled
        self.no_auth_tenant = validate_tenant_id(no_auth_tenant)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._needs_tenant(scope["path"]):
            await self.app(scope, receive, send)
            return
        tenant = self.no_auth_tenant
        if self.multitenancy_enabled:
            raw = next((v for k, v in scope["headers"] if k == _ORG_HEADER), None)
            if raw is None:
                await send_error(send, 401, "bad_data", "no org id")
                return
            try:
                tenant = validate_tenant_id(raw.decode("utf-8", "replace"))
            except InvalidTenantIDError as exc:
                await send_error(send, 400, "bad_data", str(exc))
                return
        scope.setdefault("state", {})["tenant"] = tenant
        await self.app(scope, receive, send)

    @staticmethod
    def _needs_tenant(path: str) -> bool:
        return path.startswith(_TENANT_PATHS) and not path.startswith(_OPEN_PATHS)
