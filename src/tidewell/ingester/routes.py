"""HTTP routes of the ingester: Mimir's ``/ingester/prepare-partition-downscale``
and ``/ingester/flush``.

``/ingester/flush`` (GET or POST) first consumes every record produced to its
partition before the call, then cuts every tenant's head into blocks, open
ranges included, and ships them (as Mimir's flush before a scale-down); it
answers 204 once done, 500 with the reason when the compaction or upload failed.

``/ingester/prepare-partition-downscale``: POST marks the ingester's partition
INACTIVE (distributors stop writing to it) and answers
``{"timestamp": <unix seconds of the switch>}``; DELETE switches it back to
ACTIVE; GET answers the INACTIVE timestamp, or 0 when not INACTIVE.

``/ingester/appendable-floors`` (GET, Tidewell's): per tenant, the oldest
timestamp the ingester's head still stores, ``{"partition": p, "instance": id,
"floors": {tenant: ms}}``. Distributors in other processes poll it to refuse
with 400 what would be dropped after the ack (``distributor/floors.py``).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["ingester_routes"]


def ingester_routes(ingester: Any) -> list[Route]:
    async def prepare_partition_downscale(request: Request) -> Response:
        lc = ingester.lifecycler
        if lc is None:
            return JSONResponse(
                {"status": "error", "error": "the partition ring is not enabled"}, 404
            )
        from tidewell.ring.model import PartitionState

        try:
            if request.method == "POST":
                await lc.prepare_downscale()
            elif request.method == "DELETE":
                await lc.cancel_downscale()
            state, ts = await lc.downscale_state()
        except ValueError as exc:  # e.g. the partition is PENDING
            return JSONResponse({"status": "error", "error": str(exc)}, 409)
        except Exception as exc:
            return JSONResponse({"status": "error", "error": str(exc)}, 500)
        inactive = state is PartitionState.INACTIVE
        return JSONResponse({"timestamp": int(ts) if inactive else 0})

    async def flush(request: Request) -> Response:
        try:
            # Everything acknowledged before the flush is in the blocks it writes: records
            # still in the log would otherwise arrive late, in out-of-order blocks cut
            # after the flush.
            await ingester.wait_strong()
            await ingester.compact(force=True)
            await ingester.ship()
        except Exception as exc:
            return JSONResponse({"status": "error", "error": str(exc)}, 500)
        return Response(status_code=204)

    def appendable_floors(request: Request) -> Response:
        # Sync: Starlette runs it in its thread pool (thousands of tenants take tens of
        # ms), so the event loop keeps serving meanwhile.
        return JSONResponse({"partition": ingester.partition,
                             "instance": ingester.instance_id,
                             "floors": ingester.tenant_floors()})

    return [
        Route("/ingester/appendable-floors", appendable_floors, methods=["GET"]),
        Route(
            "/ingester/prepare-partition-downscale",
            prepare_partition_downscale,
            methods=["GET", "POST", "DELETE"],
        ),
        Route("/ingester/flush", flush, methods=["GET", "POST"]),
    ]
