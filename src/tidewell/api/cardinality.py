"""Mimir's cardinality API: ``/api/v1/cardinality/{label_names,label_values,active_series}``.

Parameters, limits, response shapes and error texts are Mimir's
(``pkg/cardinality``, ``pkg/querier/cardinality_analysis_handler.go``): errors are
plain text with status 400 (bad parameter, analysis disabled for the tenant) or 413
(the answer would pass ``active_series_results_max_size_bytes`` or
``label_names_and_values_results_max_size_bytes``). The counts come from a
``CardinalitySource`` (the ingesters), computed in a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import anyio
import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from tidewell.distributor.limits import Limits
from tidewell.ingester.cardinality import COUNT_METHODS, INMEMORY, ResultTooLargeError
from tidewell.model import Matcher, is_utf8_name
from tidewell.model.errors import TidewellError
from tidewell.promql import nodes as ast
from tidewell.promql.errors import ParseError
from tidewell.promql.parser import parse
from tidewell.querier.cardinality import CardinalitySource

__all__ = ["cardinality_routes", "form_params", "parse_selector"]

log = logging.getLogger("tidewell.api.cardinality")

DEFAULT_LIMIT = 20


class _BadRequestError(TidewellError):
    """A bad parameter: answered 400 with this message."""


async def form_params(request: Request) -> dict[str, list[str]]:
    """URL and form-encoded body parameters together (Go's ``r.Form``: body first)."""
    out: dict[str, list[str]] = {}
    if request.method == "POST" and request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"):
        body = (await request.body()).decode("utf-8", "replace")
        for k, v in parse_qsl(body, keep_blank_values=True):
            out.setdefault(k, []).append(v)
    for k, v in request.query_params.multi_items():
        out.setdefault(k, []).append(v)
    return out


def parse_selector(text: str) -> list[Matcher]:
    """A PromQL series selector's matchers (``ValueError`` with Mimir's wording)."""
    try:
        expr = parse(text)
    except ParseError as exc:
        raise ValueError(f"failed to parse selector: {exc}") from None
    if not isinstance(expr, ast.VectorSelector) or expr.mods.fmt():
        raise ValueError("failed to parse selector: not a series selector")
    return sorted(expr.matchers, key=lambda m: (m.name, m.type.value, m.value))


def _selector(p: dict[str, list[str]]) -> list[Matcher]:
    values = p.get("selector", [])
    if not values:
        return []
    if len(values) > 1:
        raise _BadRequestError("multiple 'selector' params are not allowed")
    try:
        return parse_selector(values[0])
    except ValueError as exc:
        raise _BadRequestError(str(exc)) from None


def _limit(p: dict[str, list[str]], max_limit: int) -> int:
    values = p.get("limit", [])
    if not values:
        return DEFAULT_LIMIT
    if len(values) > 1:
        raise _BadRequestError("multiple 'limit' params are not allowed")
    try:
        limit = int(values[0])
    except ValueError:
        raise _BadRequestError(f'strconv.Atoi: parsing "{values[0]}": invalid syntax') from None
    if limit < 0:
        raise _BadRequestError("'limit' param cannot be less than '0'")
    if limit > max_limit:
        raise _BadRequestError(f"'limit' param cannot be greater than '{max_limit}'")
    return limit


def _count_method(p: dict[str, list[str]]) -> str:
    values = p.get("count_method", [])
    if not values:
        return INMEMORY
    if values[0] not in COUNT_METHODS:
        raise _BadRequestError(f"invalid 'count_method' param '{values[0]}'. valid options are: "
                          f"[{','.join(sorted(COUNT_METHODS))}]")
    return values[0]


def _json(data: Any) -> Response:
    return Response(orjson.dumps(data), media_type="application/json")


def cardinality_routes(source: CardinalitySource, limits: Callable[[str], Limits], *,
                       limiter: anyio.CapacityLimiter | None = None) -> list[BaseRoute]:
    """Routes of Mimir's cardinality API, to be mounted under ``/prometheus``.

    The counting runs in worker threads, at most ``limiter``'s total at once (the
    querier's ``-querier.max-concurrent`` in a process; 2 by default).
    """
    slots = limiter or anyio.CapacityLimiter(2)

    def endpoint(run: Callable[[str, Limits, dict[str, list[str]]], Any]) -> Callable[..., Any]:
        async def handle(request: Request) -> Response:
            tenant = getattr(request.state, "tenant", None) or "anonymous"
            lim = limits(tenant)
            if not lim.cardinality_analysis_enabled:
                return PlainTextResponse(
                    f"cardinality analysis is disabled for the tenant: {tenant}\n", 400)
            try:
                p = await form_params(request)
                data = await anyio.to_thread.run_sync(lambda: run(tenant, lim, p),
                                                      limiter=slots)
            except _BadRequestError as exc:
                return PlainTextResponse(f"{exc}\n", 400)
            except ResultTooLargeError as exc:
                return PlainTextResponse(f"{exc}\n", 413)
            except Exception as exc:
                log.exception("cardinality API %s failed", request.url.path)
                return PlainTextResponse(f"{exc}\n", 500)
            return _json(data)

        return handle

    def label_names(tenant: str, lim: Limits, p: dict[str, list[str]]) -> dict[str, Any]:
        matchers = _selector(p)
        limit = _limit(p, lim.cardinality_analysis_max_results)
        method = _count_method(p)
        stats = source.label_stats(tenant, matchers, count_method=method,
                                   max_bytes=lim.label_names_and_values_results_max_size_bytes)
        items = sorted(((name, len(values)) for name, values in stats.pairs.items()),
                       key=lambda x: (-x[1], x[0]))
        return {
            "label_values_count_total": sum(n for _, n in items),
            "label_names_count": len(items),
            "cardinality": [{"label_name": name, "label_values_count": n}
                            for name, n in items[:limit]],
        }

    def label_values(tenant: str, lim: Limits, p: dict[str, list[str]]) -> dict[str, Any]:
        names = p.get("label_names[]", [])
        if not names:
            raise _BadRequestError("'label_names[]' param is required")
        for name in names:
            if not name or not is_utf8_name(name):
                raise _BadRequestError(f"invalid 'label_names' param '{name}'")
        names = sorted(set(names))
        matchers = _selector(p)
        limit = _limit(p, lim.cardinality_analysis_max_results)
        method = _count_method(p)
        cap = lim.label_values_max_cardinality_label_names_per_request
        if len(names) > cap:
            raise _BadRequestError(f"label values cardinality request label names limit "
                              f"(limit: {cap} actual: {len(names)}) exceeded")
        stats = source.label_stats(tenant, matchers, count_method=method, names=names,
                                   max_bytes=lim.label_names_and_values_results_max_size_bytes)
        total = stats.series if not matchers else source.label_stats(
            tenant, [], count_method=method, names=[]).series
        labels = []
        for name, values in stats.pairs.items():
            ranked = sorted(values.items(), key=lambda x: (-x[1], x[0]))
            labels.append({
                "label_name": name,
                "label_values_count": len(values),
                "series_count": sum(values.values()),
                "cardinality": [{"label_value": v, "series_count": c}
                                for v, c in ranked[:limit]],
            })
        labels.sort(key=lambda x: (-x["series_count"], x["label_name"]))
        return {"series_count_total": total, "labels": labels}

    def active_series(tenant: str, lim: Limits, p: dict[str, list[str]]) -> dict[str, Any]:
        if "selector" not in p:
            raise _BadRequestError("missing 'selector' parameter")
        matchers = _selector(p)
        series = source.active_series(tenant, matchers,
                                      max_bytes=lim.active_series_results_max_size_bytes)
        return {"data": [dict(ls) for ls in series]}

    both = ["GET", "POST"]
    return [
        Route("/api/v1/cardinality/label_names", endpoint(label_names), methods=both),
        Route("/api/v1/cardinality/label_values", endpoint(label_values), methods=both),
        Route("/api/v1/cardinality/active_series", endpoint(active_series), methods=both),
    ]
