"""``GET /ruler/status``: the groups this ruler evaluates, their last evaluation and errors."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from tidewell.ruler.state import GroupState

__all__ = ["ruler_status_routes"]


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if ts else "never"


def render(groups: list[GroupState]) -> str:
    rows = []
    for gs in sorted(groups, key=lambda g: (g.tenant, g.namespace, g.group.name)):
        errors = [f"{rs.rule.name}: {rs.last_error}" for rs in gs.rules if rs.last_error]
        health = "err" if errors else ("ok" if gs.evaluations else "unknown")
        rows.append(
            "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in (
                gs.tenant, gs.namespace, gs.group.name, f"{gs.interval:g}s", len(gs.rules),
                _when(gs.last_evaluation), f"{gs.evaluation_time * 1000:.1f} ms",
                gs.evaluations, health)) +
            f"<td>{'<br>'.join(html.escape(e) for e in errors)}</td></tr>")
    head = "".join(f"<th>{h}</th>" for h in (
        "Tenant", "Namespace", "Group", "Interval", "Rules", "Last evaluation", "Duration",
        "Evaluations", "Health", "Errors"))
    return (
        "<!DOCTYPE html><html><head><title>Ruler status</title></head><body>"
        f"<h1>Ruler: {len(groups)} rule groups evaluated here</h1>"
        f"<table border='1'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody>"
        "</table></body></html>")


def ruler_status_routes(groups: Callable[[], list[GroupState]]) -> list[Route]:
    async def page(request: Request) -> Response:
        return HTMLResponse(render(groups()))

    return [Route("/ruler/status", page, methods=["GET"])]
