"""The JSON the UI's per-tenant status pages read, scoped to the caller's tenant.

Mimir's operator pages (``/metrics``, ``/store-gateway/tenants``, ``/runtime_config``
without ``tenant``) answer for every tenant and take no ``X-Scope-OrgID``. The UI never
reads them for per-tenant data: these routes take the tenant from the header (the tenant
middleware) and answer for that tenant only, so a page opened as tenant A cannot show
B's names, rates or blocks.
"""

from __future__ import annotations

from prometheus_client import Counter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tidewell.distributor import metrics as dm
from tidewell.storegateway.gateway import StoreGateway
from tidewell.storegateway.status import blocks_doc

__all__ = ["TENANT_API_PREFIX", "tenant_api_routes"]

TENANT_API_PREFIX = "/ui/api/v1/"


def _tenant_counts(counter: Counter, tenant: str, by: str | None = None) -> dict[str, float]:
    """The counter's ``_total`` samples of one tenant, keyed by label ``by`` (or ``""``)."""
    out: dict[str, float] = {}
    for family in counter.collect():
        for s in family.samples:
            if s.name.endswith("_total") and s.labels.get("user") == tenant:
                key = s.labels.get(by, "") if by else ""
                out[key] = out.get(key, 0.0) + s.value
    return out


def tenant_api_routes(store_gateway: StoreGateway | None) -> list[Route]:
    """``ingest`` (this process's counters of the tenant) and ``blocks`` (the blocks the
    store-gateway of this process loaded for the tenant; 404 without one)."""

    async def ingest(request: Request) -> Response:
        tenant = request.state.tenant
        return JSONResponse({
            "tenant": tenant,
            "received_samples": _tenant_counts(dm.RECEIVED_SAMPLES, tenant).get("", 0.0),
            "received_exemplars": _tenant_counts(dm.RECEIVED_EXEMPLARS, tenant).get("", 0.0),
            "discarded_samples": _tenant_counts(dm.DISCARDED_SAMPLES, tenant, "reason"),
            "discarded_exemplars": _tenant_counts(dm.DISCARDED_EXEMPLARS, tenant, "reason"),
        })

    async def blocks(request: Request) -> Response:
        if store_gateway is None:
            return Response("no store-gateway in this process", status_code=404)
        return JSONResponse(blocks_doc(store_gateway, request.state.tenant))

    return [Route(f"{TENANT_API_PREFIX}ingest", ingest),
            Route(f"{TENANT_API_PREFIX}blocks", blocks)]
