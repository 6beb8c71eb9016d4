"""Store-gateway status pages, as Mimir's: ``/store-gateway/tenants`` and
``/store-gateway/tenant/{tenant}/blocks`` (JSON), to see how blocks are sharded."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tidewell.storegateway.gateway import StoreGateway

__all__ = ["blocks_doc", "store_gateway_status_routes"]


def blocks_doc(gateway: StoreGateway, tenant: str) -> dict:
    """The blocks the gateway loaded for ``tenant``, oldest first, as the JSON pages show them."""
    loaded = sorted(gateway.blocks(tenant), key=lambda b: (b.meta.min_time, b.id))
    return {"tenant": tenant, "blocks": [
        {"block_id": b.id, "min_time": b.meta.min_time, "max_time": b.meta.max_time}
        for b in loaded]}


def store_gateway_status_routes(gateway: StoreGateway) -> list[Route]:
    """Tenants this gateway synced, and the blocks it has loaded for one of them."""

    async def tenants(request: Request) -> Response:
        return JSONResponse({"tenants": gateway.loaded_tenants()})

    async def blocks(request: Request) -> Response:
        return JSONResponse(blocks_doc(gateway, request.path_params["tenant"]))

    return [
        Route("/store-gateway/tenants", tenants),
        Route("/store-gateway/tenant/{tenant}/blocks", blocks),
    ]
