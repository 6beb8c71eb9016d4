"""Mimir's ``/runtime_config``: the per-tenant overrides in force, as YAML (or JSON).

``mode=diff`` keeps only the limits that differ from the defaults, ``mode=defaults``
prints the defaults; ``tenant=<id>`` gives one tenant's effective limits (what the UI's
runtime-config page shows). ``Accept: application/json`` or ``format=json`` answers JSON.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tidewell.distributor.limits import Limits, Overrides

__all__ = ["runtime_config_routes"]


def _limits_dict(limits: Limits, defaults: Limits | None = None) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(limits):
        value = getattr(limits, f.name)
        if defaults is None or value != getattr(defaults, f.name):
            out[f.name] = "inf" if value == float("inf") else value
    return out


def runtime_config_routes(overrides: Overrides) -> list[Route]:
    async def runtime_config(request: Request) -> Response:
        q = request.query_params
        mode = q.get("mode", "")
        tenant = q.get("tenant")
        defaults = overrides.defaults
        doc: dict[str, Any]
        if tenant is not None:
            doc = {"tenant": tenant,
                   "limits": _limits_dict(overrides.for_tenant(tenant),
                                          defaults if mode == "diff" else None)}
        elif mode == "defaults":
            doc = _limits_dict(defaults)
        else:
            diff = defaults if mode == "diff" else None
            doc = {"overrides": {t: _limits_dict(overrides.for_tenant(t), diff)
                                 for t in overrides.tenant_ids()}}
        if q.get("format") == "json" or "application/json" in request.headers.get("accept", ""):
            return JSONResponse(doc)
        return PlainTextResponse(yaml.safe_dump(doc, sort_keys=False), media_type="text/yaml")

    return [Route("/runtime_config", runtime_config)]
