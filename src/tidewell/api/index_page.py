"""The operator's index page at ``/``, as Mimir's: every admin and status endpoint that
this process serves, grouped and linked.

The list is built from the process's own routes, so it shows exactly the endpoints of
the targets running here (a store-gateway alone has no ``/ingester/ring`` link).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route

__all__ = ["ENDPOINTS", "index_routes", "served_paths"]

ENDPOINTS: list[tuple[str, str, str]] = [
    # (group, path, description); a "?" query is linked as is, matched without it.
    ("User interface", "/ui/", "Query UI: PromQL editor, graphs, status and cardinality pages"),
    ("Admin Endpoints", "/config", "Current Config (including the default values)"),
    ("Admin Endpoints", "/config?mode=diff", "Current Config (show only values that differ "
     "from the defaults)"),
    ("Admin Endpoints", "/runtime_config", "Runtime Config (including the overrides values)"),
    ("Admin Endpoints", "/runtime_config?mode=diff",
     "Runtime Config (show only values that differ from the defaults)"),
    ("Admin Endpoints", "/services", "Service Status"),
    ("Admin Endpoints", "/ready", "Readiness"),
    ("Admin Endpoints", "/metrics", "Metrics"),
    ("Admin Endpoints", "/api/v1/status/buildinfo", "Build information"),
    ("Admin Endpoints", "/api/v1/status/flags", "Command-line flags"),
    ("Ingester", "/ingester/ring", "Ingester Ring Status"),
    ("Ingester", "/ingester/partition-ring", "Ingester Partitions Ring Status"),
    ("Store-gateway", "/store-gateway/ring", "Store Gateway Ring"),
    ("Store-gateway", "/store-gateway/tenants", "Tenants & Blocks"),
    ("Compactor", "/compactor/ring", "Compactor Ring Status"),
    ("Ruler", "/ruler/ring", "Ruler Ring Status"),
    ("Ruler", "/ruler/status", "Rule groups evaluated here: last evaluation, errors"),
    ("Dangerous", "/ingester/flush", "Trigger a Flush of data from Ingester to storage"),
    ("Dangerous", "/ingester/prepare-partition-downscale",
     "Prepare the ingester's partition for a scale-down (POST)"),
]


def served_paths(routes: Sequence[BaseRoute], prefix: str = "") -> set[str]:
    """Paths of the routes (mounts walked), without path parameters expanded."""
    out: set[str] = set()
    for r in routes:
        if isinstance(r, Mount):
            out |= served_paths(r.routes, prefix + r.path)
            out.add(prefix + r.path + "/")
        elif isinstance(r, Route):
            out.add(prefix + r.path)
    return out


def _page(paths: set[str]) -> str:
    groups: dict[str, list[str]] = {}
    for group, path, desc in ENDPOINTS:
        if path.split("?")[0] in paths:
            groups.setdefault(group, []).append(
                f"<li><a href='{html.escape(path)}'>{html.escape(desc)}</a></li>")
    body = "".join(f"<h2>{html.escape(g)}</h2><ul>{''.join(items)}</ul>"
                   for g, items in groups.items())
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Tidewell</title></head>"
            f"<body><h1>Tidewell</h1>{body}</body></html>")


def index_routes(routes: Sequence[BaseRoute]) -> list[Route]:
    """``/``, listing those of ``ENDPOINTS`` that ``routes`` (the process's) serve."""

    async def index(_: Request) -> Response:
        return HTMLResponse(_page(served_paths(routes)))

    return [Route("/", index)]
