"""The ruler's HTTP API: Mimir's rule configuration API and Prometheus's rules/alerts API.

Configuration (YAML, as ``mimirtool rules`` and cortextool send and read it):

* ``GET /prometheus/config/v1/rules`` → ``namespace: [groups]``
* ``GET /prometheus/config/v1/rules/{namespace}`` → ``namespace: [groups]``
* ``GET /prometheus/config/v1/rules/{namespace}/{group}`` → the group
* ``POST /prometheus/config/v1/rules/{namespace}`` with one group → 202
* ``DELETE /prometheus/config/v1/rules/{namespace}[/{group}]`` → 202

A bad group is a 400 listing every problem with its line (``rulefmt``); a group
that would pass the tenant's ``ruler_max_rules_per_rule_group`` or
``ruler_max_rule_groups_per_tenant`` is a 400 naming the limit. Read API
(Prometheus's JSON): ``GET /prometheus/api/v1/rules`` and ``/alerts``, merging
what the other rulers evaluate (each asked with ``?local=true``).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tidewell.distributor.limits import Limits
from tidewell.ruler.rulefmt import RuleFormatError, RuleGroup, groups_to_yaml, parse_group
from tidewell.ruler.state import GroupState, RuleState
from tidewell.ruler.store import ReadOnlyStoreError, RuleStore
from tidewell.ruler.template import go_float

__all__ = ["MAX_RULE_GROUP_BYTES", "ruler_routes"]

log = logging.getLogger("tidewell.ruler")

PEER_TIMEOUT_S = 10.0
MAX_RULE_GROUP_BYTES = 4 << 20
"""Largest rule group body accepted (far above any sane group, far below harm)."""

StatesFn = Callable[[str], dict[tuple[str, str], GroupState]]
"""Given a tenant, the state of its groups this ruler evaluates, by (namespace, group)."""


def _error(status: int, message: str, error_type: str = "bad_data") -> JSONResponse:
    return JSONResponse({"status": "error", "errorType": error_type, "error": message},
                        status_code=status)


def _yaml(text: str) -> Response:
    return Response(text, media_type="application/yaml")


def _accepted() -> JSONResponse:
    return JSONResponse({"status": "success", "data": None, "errorType": "", "error": ""},
                        status_code=202)


async def _read_bounded(request: Request, limit: int) -> bytes | None:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def check_limits(limits: Limits, group: RuleGroup, existing: dict[str, list[RuleGroup]],
                 namespace: str) -> str | None:
    """Mimir's per-tenant ruler limits for a group about to be stored; the error or None."""
    max_rules = limits.ruler_max_rules_per_rule_group
    if max_rules > 0 and len(group.rules) > max_rules:
        return (f"per-user rules per rule group limit (limit: {max_rules} actual: "
                f"{len(group.rules)}) exceeded")
    max_groups = limits.ruler_max_rule_groups_per_tenant
    replaces = any(g.name == group.name for g in existing.get(namespace, []))
    total = sum(len(gs) for gs in existing.values()) + (0 if replaces else 1)
    if max_groups > 0 and total > max_groups:
        return f"per-user rule groups limit (limit: {max_groups} actual: {total}) exceeded"
    return None


def ruler_routes(store: RuleStore, limits: Callable[[str], Limits], states: StatesFn, *,
                 peers: Callable[[], list[str]] = list, enable_config_api: bool = True
                 ) -> list[Route]:
    """Routes for one ruler; ``limits`` gives a tenant's limits, ``states`` its groups'
    state, ``peers`` the base URLs of the other rulers (the read API merges theirs)."""

    def tenant_of(request: Request) -> str:
        return request.state.tenant

    async def list_all(request: Request) -> Response:
        groups = await asyncio.to_thread(store.list_groups, tenant_of(request))
        if not groups:
            return _error(404, "no rule groups found", "not_found")
        return _yaml(groups_to_yaml(groups))

    async def list_namespace(request: Request) -> Response:
        namespace = unquote(request.path_params["namespace"])
        groups = await asyncio.to_thread(store.list_groups, tenant_of(request))
        if namespace not in groups:
            return _error(404, "no rule groups found", "not_found")
        return _yaml(groups_to_yaml({namespace: groups[namespace]}))

    async def get_group(request: Request) -> Response:
        namespace = unquote(request.path_params["namespace"])
        name = unquote(request.path_params["group"])
        group = await asyncio.to_thread(store.get_group, tenant_of(request), namespace, name)
        if group is None:
            return _error(404, "group does not exist", "not_found")
        return _yaml(group.to_yaml())

    async def set_group(request: Request) -> Response:
        tenant = tenant_of(request)
        namespace = unquote(request.path_params["namespace"])
        if store.read_only:
            return _error(400, "the rule store (-ruler-storage.backend=local) is read-only")
        body = await _read_bounded(request, MAX_RULE_GROUP_BYTES)
        if body is None:
            return _error(413, f"rule group larger than {MAX_RULE_GROUP_BYTES} bytes")
        lim = limits(tenant)
        try:
            group = parse_group(body, scheme=lim.name_validation_scheme)
        except RuleFormatError as exc:
            return _error(400, f"invalid rule group: {exc}")
        existing = await asyncio.to_thread(store.list_groups, tenant)
        problem = check_limits(lim, group, existing, namespace)
        if problem:
            return _error(400, problem)
        await asyncio.to_thread(store.set_group, tenant, namespace, group)
        return _accepted()

    async def delete_group(request: Request) -> Response:
        namespace = unquote(request.path_params["namespace"])
        name = unquote(request.path_params["group"])
        try:
            found = await asyncio.to_thread(store.delete_group, tenant_of(request), namespace,
                                            name)
        except ReadOnlyStoreError as exc:
            return _error(400, str(exc))
        if not found:
            return _error(404, "group does not exist", "not_found")
        return _accepted()

    async def delete_namespace(request: Request) -> Response:
        namespace = unquote(request.path_params["namespace"])
        try:
            n = await asyncio.to_thread(store.delete_namespace, tenant_of(request), namespace)
        except ReadOnlyStoreError as exc:
            return _error(400, str(exc))
        if not n:
            return _error(404, "namespace does not exist", "not_found")
        return _accepted()

    async def rules(request: Request) -> Response:
        tenant = tenant_of(request)
        q = request.query_params
        live = states(tenant)
        if q.get("local") == "true":  # a peer ruler asking for what runs here
            return _success({"groups": [_group_json(ns, gs.group, gs)
                                        for (ns, _), gs in sorted(live.items())]})
        kind = q.get("type", "")
        if kind not in ("", "alert", "record"):
            return _error(400, f'unsupported rule type {kind!r}: must be "alert" or "record"')
        names = set(q.getlist("rule_name[]"))
        group_names = set(q.getlist("rule_group[]"))
        files = set(q.getlist("file[]"))
        stored = await asyncio.to_thread(store.list_groups, tenant)
        remote = {(g["file"], g["name"]): g for g in await _from_peers(
            peers(), "/prometheus/api/v1/rules", tenant, "groups")}
        out = []
        for namespace, groups in stored.items():
            if files and namespace not in files:
                continue
            for group in groups:
                if group_names and group.name not in group_names:
                    continue
                gs = live.get((namespace, group.name))
                if gs is not None and gs.group == group:
                    body = _group_json(namespace, group, gs)
                else:
                    body = remote.get((namespace, group.name)) or _group_json(
                        namespace, group, None)
                body = _filtered(body, kind, names)
                if body["rules"] or not (kind or names):
                    out.append(body)
        return _success({"groups": out})

    async def alerts(request: Request) -> Response:
        tenant = tenant_of(request)
        out = [
            _alert_json(a)
            for gs in states(tenant).values()
            for rs in gs.rules if rs.rule.alert
            for a in rs.alerts.values() if a.state != "inactive"
        ]
        if request.query_params.get("local") != "true":
            out += await _from_peers(peers(), "/prometheus/api/v1/alerts", tenant, "alerts")
        return _success({"alerts": out})

    routes = [
        Route("/prometheus/api/v1/rules", rules, methods=["GET"]),
        Route("/prometheus/api/v1/alerts", alerts, methods=["GET"]),
    ]
    if enable_config_api:
        base = "/prometheus/config/v1/rules"
        routes += [
            Route(base, list_all, methods=["GET"]),
            Route(base + "/{namespace}", list_namespace, methods=["GET"]),
            Route(base + "/{namespace}", set_group, methods=["POST"]),
            Route(base + "/{namespace}", delete_namespace, methods=["DELETE"]),
            Route(base + "/{namespace}/{group}", get_group, methods=["GET"]),
            Route(base + "/{namespace}/{group}", delete_group, methods=["DELETE"]),
        ]
    return routes


def _success(data: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"status": "success", "data": data})


async def _from_peers(urls: list[str], path: str, tenant: str, key: str) -> list[dict]:
    """``data[key]`` of ``path?local=true`` on every other ruler (Mimir's fan-out); a ruler
    that does not answer is logged and left out, as its groups move to others soon."""
    if not urls:
        return []
    async with httpx.AsyncClient(timeout=PEER_TIMEOUT_S) as client:
        answers = await asyncio.gather(
            *(client.get(f"{u}{path}", params={"local": "true"},
                         headers={"X-Scope-OrgID": tenant}) for u in urls),
            return_exceptions=True)
    out: list[dict] = []
    for url, r in zip(urls, answers, strict=True):
        if isinstance(r, BaseException) or r.status_code != 200:
            log.warning("ruler did not answer", extra={"fields": {
                "ruler": url, "err": str(r) if isinstance(r, BaseException) else r.status_code}})
            continue
        out.extend(r.json()["data"][key])
    return out


def _filtered(body: dict[str, Any], kind: str, names: set[str]) -> dict[str, Any]:
    rules = [r for r in body["rules"]
             if (not kind or (kind == "alert") == (r["type"] == "alerting"))
             and (not names or r["name"] in names)]
    return {**body, "rules": rules}


def _rfc3339(ts: float) -> str:
    if not ts:
        return "0001-01-01T00:00:00Z"
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _value_str(v: float) -> str:
    return go_float(v) if math.isfinite(v) else ("NaN" if math.isnan(v) else go_float(v))


def _alert_json(a: Any) -> dict[str, Any]:
    out = {"labels": a.labels, "annotations": a.annotations, "state": a.state,
           "activeAt": _rfc3339(a.active_at), "value": _value_str(a.value)}
    if a.keep_firing_since:
        out["keepFiringSince"] = _rfc3339(a.keep_firing_since)
    return out


def _rule_json(rs: RuleState) -> dict[str, Any]:
    r = rs.rule
    common = {"name": r.name, "query": r.expr, "labels": r.labels, "health": rs.health,
              "lastError": rs.last_error, "evaluationTime": rs.evaluation_time,
              "lastEvaluation": _rfc3339(rs.last_evaluation)}
    if r.record:
        return {**common, "type": "recording"}
    return {**common, "state": rs.state, "duration": r.for_, "keepFiringFor": r.keep_firing_for,
            "annotations": r.annotations,
            "alerts": [_alert_json(a) for a in rs.alerts.values() if a.state != "inactive"],
            "type": "alerting"}


def _group_json(namespace: str, group: RuleGroup, gs: GroupState | None) -> dict[str, Any]:
    rule_states = gs.rules if gs is not None else [RuleState(r) for r in group.rules]
    rules = [_rule_json(rs) for rs in rule_states]
    return {
        "name": group.name, "file": namespace, "rules": rules,
        "interval": gs.interval if gs else group.interval, "limit": group.limit,
        "evaluationTime": gs.evaluation_time if gs else 0.0,
        "lastEvaluation": _rfc3339(gs.last_evaluation if gs else 0.0),
    }
