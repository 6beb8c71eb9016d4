"""Endpoints every process serves: readiness, services, config, flags, build info, metrics."""

from __future__ import annotations

import platform
from typing import Any

import yaml
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from tidewell import __version__
from tidewell.util.config_tree import flag_string, get_path, iter_leaves, to_nested_dict
from tidewell.util.services import ServiceManager

APPLICATION = "Grafana Mimir"
"""What ``buildinfo`` says it is: Grafana's Prometheus data source offers Mimir's features
(ruler API, cardinality) to a backend that answers this, as Mimir does."""


def build_info(features: dict[str, str] | None = None) -> dict[str, Any]:
    """Prometheus's build fields plus Mimir's ``application`` and ``features``."""
    return {
        "application": APPLICATION,
        "version": __version__,
        "revision": "",
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": f"python{platform.python_version()}",
        "features": features or {},
    }


def status_routes(config: Any, manager: ServiceManager,
                  features: dict[str, str] | None = None) -> list[BaseRoute]:
    """Routes that describe the process itself; ``config`` is the root config tree,
    ``features`` Mimir's ``buildinfo`` features of the targets running here."""

    async def ready(_: Request) -> Response:
        ok, reason = manager.ready()
        if ok:
            return PlainTextResponse("ready\n")
        return PlainTextResponse(f"Some services are not Running:\n{reason}\n", status_code=503)

    async def services(request: Request) -> Response:
        states = manager.states()
        if "application/json" in request.headers.get("accept", ""):
            return JSONResponse(states)
        return PlainTextResponse("".join(f"{n}: {s}\n" for n, s in states.items()))

    async def config_page(request: Request) -> Response:
        diff = request.query_params.get("mode") == "diff"
        body = yaml.safe_dump(to_nested_dict(config, only_changed=diff), sort_keys=False)
        return PlainTextResponse(body, media_type="text/yaml")

    async def flags(_: Request) -> Response:
        data = {
            leaf.flag: flag_string(leaf, get_path(config, leaf.path))
            for leaf in iter_leaves(type(config))
        }
        return JSONResponse({"status": "success", "data": data})

    async def buildinfo(_: Request) -> Response:
        return JSONResponse({"status": "success", "data": build_info(features)})

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    routes: list[BaseRoute] = [
        Route("/ready", ready),
        Route("/services", services),
        Route("/config", config_page),
        Route("/metrics", metrics),
    ]
    for prefix in ("", "/prometheus"):
        routes.append(Route(f"{prefix}/api/v1/status/flags", flags))
        routes.append(Route(f"{prefix}/api/v1/status/buildinfo", buildinfo))
    return routes
