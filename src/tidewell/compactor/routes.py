"""The compactor's HTTP API: Mimir's tenant deletion endpoints.

``POST /compactor/delete_tenant`` requests deletion of the caller's tenant
(``X-Scope-OrgID``); ``GET /compactor/delete_tenant_status`` answers
``{"tenant_id": ..., "blocks_deleted": bool}``.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tidewell.compactor.compactor import Compactor
from tidewell.compactor.jobs_status import jobs_routes
from tidewell.compactor.tenant_deletion import tenant_blocks_left, write_tenant_deletion_mark

__all__ = ["compactor_routes"]


def compactor_routes(compactor: Compactor) -> list[Route]:
    async def delete_tenant(request: Request) -> Response:
        tenant = request.state.tenant
        await asyncio.to_thread(write_tenant_deletion_mark, compactor.bucket, tenant,
                                compactor.clock())
        return Response(status_code=200)

    async def delete_tenant_status(request: Request) -> Response:
        tenant = request.state.tenant
        left = await asyncio.to_thread(tenant_blocks_left, compactor.bucket, tenant)
        return JSONResponse({"tenant_id": tenant, "blocks_deleted": not left})

    return [
        Route("/compactor/delete_tenant", delete_tenant, methods=["POST"]),
        Route("/compactor/delete_tenant_status", delete_tenant_status, methods=["GET"]),
        *jobs_routes(compactor),
    ]
