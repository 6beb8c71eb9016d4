"""Ring status pages: ``/ingester/ring``, ``/store-gateway/ring``, ``/ingester/partition-ring``.

HTML tables for people, JSON (``Accept: application/json`` or ``?format=json``)
for scripts, with dskit's field names (``id``, ``state``, ``address``,
``timestamp``, ``registered_timestamp``, ``zone``, ``num_tokens``,
``ownership``). As dskit does, an instance whose heartbeat is older than the
timeout is shown as ``UNHEALTHY``. When the page is given a watcher (it knows
the KV and key), ``POST forget=<instance id>`` removes an instance, as the
"Forget" button of Mimir's page does. The lead mounts the routes
``ring_status_routes`` returns.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tidewell.ring.instance_ring import InstanceRing, forget_instance
from tidewell.ring.partition_ring import PartitionRing

__all__ = [
    "instance_ring_status",
    "partition_ring_status",
    "ring_status_routes",
]


class InstanceRingSource(Protocol):
    def instance_ring(self) -> InstanceRing: ...


class PartitionRingSource(Protocol):
    def partition_ring(self) -> PartitionRing: ...


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if ts else ""


def _ownership(ring: InstanceRing) -> dict[str, float]:
    """Percentage of the token space each instance owns (range ending at each token)."""
    toks = sorted((t, i.id) for i in ring.desc.instances.values() for t in i.tokens)
    owned: dict[str, float] = {i: 0.0 for i in ring.desc.instances}
    for k, (t, iid) in enumerate(toks):
        owned[iid] += (t - toks[k - 1][0]) % (1 << 32) if len(toks) > 1 else 1 << 32
    return {i: 100.0 * v / (1 << 32) for i, v in owned.items()}


def instance_ring_status(ring: InstanceRing, now: float | None = None) -> dict[str, Any]:
    """The JSON document of an instance ring page."""
    now = ring.clock() if now is None else now
    own = _ownership(ring)
    shards = []
    for inst in ring.instances():
        healthy = ring.is_healthy(inst, now)
        shards.append(
            {
                "id": inst.id,
                "state": inst.state.value if healthy else "UNHEALTHY",
                "address": inst.addr,
                "zone": inst.zone,
                "timestamp": _iso(inst.timestamp),
                "registered_timestamp": _iso(inst.registered_timestamp),
                "heartbeat_age_seconds": round(max(0.0, now - inst.timestamp), 3),
                "healthy": healthy,
                "num_tokens": len(inst.tokens),
                "ownership": round(own.get(inst.id, 0.0), 3),
            }
        )
    return {"name": ring.name, "now": _iso(now), "shards": shards}


def partition_ring_status(ring: PartitionRing, now: float | None = None) -> dict[str, Any]:
    """The JSON document of the partition ring page."""
    now = time.time() if now is None else now
    desc = ring.desc
    partitions = []
    for p in sorted(desc.partitions.values(), key=lambda d: d.id):
        owners = desc.owners_of(p.id)
        partitions.append(
            {
                "id": p.id,
                "state": p.state.value,
                "state_timestamp": _iso(p.state_timestamp),
                "num_tokens": len(p.tokens),
                "owner_ids": sorted(owners),
                "owners": [
                    {
                        "id": oid,
                        "state": o.state.value,
                        "updated_timestamp": _iso(o.updated_timestamp),
                        "age_seconds": round(max(0.0, now - o.updated_timestamp), 3),
                    }
                    for oid, o in sorted(owners.items())
                ],
            }
        )
    return {"now": _iso(now), "partitions": partitions}


def _wants_json(request: Request) -> bool:
    if request.query_params.get("format") == "json":
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _table(title: str, columns: list[str], rows: list[list[Any]], extra: str = "") -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px}"
        "</style></head><body>"
        f"<h1>{html.escape(title)}</h1><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>{extra}</body></html>"
    )


def _instance_handler(title: str, source: InstanceRingSource) -> Callable[[Request], Any]:
    kv, key = getattr(source, "kv", None), getattr(source, "key", None)

    async def handler(request: Request) -> Response:
        if request.method == "POST":
            # Parsed by hand: Starlette's form() needs python-multipart, which we don't use.
            form = parse_qs((await request.body()).decode("utf-8", "replace"))
            target = (form.get("forget") or [request.query_params.get("forget", "")])[0]
            if kv is None or key is None or not target:
                return JSONResponse({"error": "forget needs an instance id"}, status_code=400)
            found = await forget_instance(kv, key, target)
            if _wants_json(request):
                return JSONResponse({"forgotten": target, "found": found})
            return RedirectResponse(str(request.url), status_code=303)
        doc = instance_ring_status(source.instance_ring())
        if _wants_json(request):
            return JSONResponse(doc)
        cols = ["Instance ID", "Availability Zone", "State", "Address", "Registered At",
                "Last Heartbeat", "Heartbeat Age (s)", "Tokens", "Ownership %"]
        rows = [
            [s["id"], s["zone"], s["state"], s["address"], s["registered_timestamp"],
             s["timestamp"], s["heartbeat_age_seconds"], s["num_tokens"], s["ownership"]]
            for s in doc["shards"]
        ]
        forget = ""
        if kv is not None:
            forget = (
                "<form method='post'><label>Forget instance <input name='forget'></label>"
                "<button type='submit'>Forget</button></form>"
            )
        return HTMLResponse(_table(title, cols, rows, forget))

    return handler


def _partition_handler(source: PartitionRingSource) -> Callable[[Request], Any]:
    async def handler(request: Request) -> Response:
        doc = partition_ring_status(source.partition_ring())
        if _wants_json(request):
            return JSONResponse(doc)
        cols = ["Partition ID", "State", "State changed", "Owners", "Owner ages (s)", "Tokens"]
        rows = [
            [p["id"], p["state"], p["state_timestamp"], ", ".join(p["owner_ids"]),
             ", ".join(str(o["age_seconds"]) for o in p["owners"]), p["num_tokens"]]
            for p in doc["partitions"]
        ]
        return HTMLResponse(_table("Ingester partitions ring status", cols, rows))

    return handler


def ring_status_routes(
    *,
    ingester_ring: InstanceRingSource | None = None,
    store_gateway_ring: InstanceRingSource | None = None,
    partition_ring: PartitionRingSource | None = None,
    compactor_ring: InstanceRingSource | None = None,
    ruler_ring: InstanceRingSource | None = None,
) -> list[Route]:
    """Routes for the rings this process knows about (watchers or rings: anything with
    ``instance_ring()`` / ``partition_ring()``)."""
    routes: list[Route] = []
    if ingester_ring is not None:
        routes.append(Route("/ingester/ring", _instance_handler(
            "Ingester ring status", ingester_ring), methods=["GET", "POST"]))
    if store_gateway_ring is not None:
        routes.append(Route("/store-gateway/ring", _instance_handler(
            "Store-gateway ring status", store_gateway_ring), methods=["GET", "POST"]))
    if compactor_ring is not None:
        routes.append(Route("/compactor/ring", _instance_handler(
            "Compactor ring status", compactor_ring), methods=["GET", "POST"]))
    if ruler_ring is not None:
        routes.append(Route("/ruler/ring", _instance_handler(
            "Ruler ring status", ruler_ring), methods=["GET", "POST"]))
    if partition_ring is not None:
        routes.append(Route("/ingester/partition-ring", _partition_handler(partition_ring)))
    return routes
