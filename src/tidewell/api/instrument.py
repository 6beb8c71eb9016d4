"""Mimir's HTTP server metrics: duration, body sizes and requests in flight per route.

Dashboards and alerts written for Mimir (the mixin's latency panels, ``MimirRequestLatency``)
read ``cortex_request_duration_seconds`` by ``route``; a route is named as dskit names an
unnamed gorilla route: its path template with every run of non-alphanumerics turned into
``_``, trimmed and lowercased (``/prometheus/api/v1/label/{name}/values`` becomes
``prometheus_api_v1_label_name_values``). Labels come from templates, never from raw
paths, so no request can add label values without bound; a path no route serves is
``other``. The query-frontend forwards the Prometheus API through one catch-all route:
there the known endpoints of that API name the route, anything else is ``other``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from functools import lru_cache

from prometheus_client import Gauge, Histogram
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["InstrumentMiddleware", "route_label"]

DURATION_BUCKETS = (.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 25, 50, 100)
BODY_SIZE_BUCKETS = tuple(4.0 * 4**i for i in range(15))

REQUEST_DURATION = Histogram(
    "cortex_request_duration_seconds", "Time (in seconds) spent serving HTTP requests.",
    ["method", "route", "status_code", "ws"], buckets=DURATION_BUCKETS)
REQUEST_BYTES = Histogram(
    "cortex_request_message_bytes", "Size (in bytes) of messages received in the request.",
    ["method", "route"], buckets=BODY_SIZE_BUCKETS)
RESPONSE_BYTES = Histogram(
    "cortex_response_message_bytes", "Size (in bytes) of messages sent in response.",
    ["method", "route"], buckets=BODY_SIZE_BUCKETS)
INFLIGHT = Gauge("cortex_inflight_requests", "Current number of inflight requests.",
                 ["method", "route"])

PROMETHEUS_API = frozenset({
    "query", "query_range", "query_exemplars", "series", "labels", "label/{name}/values",
    "metadata", "read", "format_query", "parse_query", "rules", "alerts", "targets",
    "status/buildinfo", "status/config", "status/flags", "status/runtimeinfo",
    "status/tsdb", "cardinality/label_names", "cardinality/label_values",
    "cardinality/active_series", "cardinality/active_native_histogram_metrics",
})
"""Endpoints of the Prometheus HTTP API (v1) that name a forwarded request's route."""

_INVALID = re.compile(r"[^a-zA-Z0-9]+")
_LABEL_VALUES = re.compile(r"label/[^/]+/values")
_CATCH_ALL = re.compile(r"\{[^}:]+:path\}$")


def make_label_value(template: str) -> str:
    """dskit's ``MakeLabelValue``: a path template as a label value."""
    return _INVALID.sub("_", template).strip("_").lower() or "root"


def _forwarded(rest: str) -> str | None:
    """The API endpoint a catch-all route's remaining path names, if it is one."""
    rest = _LABEL_VALUES.sub("label/{name}/values", rest.strip("/"))
    return rest if rest in PROMETHEUS_API else None


def _template(routes: Sequence[BaseRoute], path: str) -> str | None:
    for route in routes:
        if isinstance(route, Mount):
            m = route.path_regex.match(path)
            if m is None:
                continue
            if not route.routes:  # an app mounted whole (static files)
                return route.path
            inner = _template(route.routes, "/" + m.group("path"))
            if inner is not None:
                return route.path + inner
        elif isinstance(route, Route) and route.path_regex.match(path):
            catch_all = _CATCH_ALL.search(route.path)
            if catch_all is None:
                return route.path
            prefix = route.path[:catch_all.start()]
            endpoint = _forwarded(path[len(prefix):]) if path.startswith(prefix) else None
            return None if endpoint is None else prefix + endpoint
    return None


def route_label(routes: Sequence[BaseRoute], path: str) -> str:
    """The ``route`` label of a request for ``path`` (``other`` when no route serves it)."""
    template = _template(routes, path)
    return "other" if template is None else make_label_value(template)


class InstrumentMiddleware:
    """Observes every HTTP request as dskit's ``Instrument`` middleware does.

    Outermost, so refused tenants (401) and unknown paths (404) are counted too. The
    status is the one sent; a request whose handler sent nothing (its client went
    away) is counted as 200, as Go's response writer reports it.
    """

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self._label = lru_cache(maxsize=4096)(lambda path: route_label(routes, path))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, route = scope["method"], self._label(scope["path"])
        status, received, sent = 200, 0, 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        inflight = INFLIGHT.labels(method, route)
        inflight.inc()
        started = time.perf_counter()
        try:
            await self.app(scope, counting_receive, counting_send)
        finally:
            inflight.dec()
            REQUEST_DURATION.labels(method, route, str(status), "false").observe(
                time.perf_counter() - started)
            REQUEST_BYTES.labels(method, route).observe(received)
            RESPONSE_BYTES.labels(method, route).observe(sent)
