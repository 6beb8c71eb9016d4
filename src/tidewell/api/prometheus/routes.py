"""The Prometheus HTTP query API as Starlette routes.

Queries (parsing included) run on ``-querier.max-concurrent`` worker threads so
the event loop stays free for pushes and ``/ready``; a client that disconnects or
a query past ``-querier.timeout`` cancels evaluation through the engine's cancel
event, and the query limits stop it as its data is produced. Responses follow
Prometheus's JSON shapes: values as strings, timestamps as float seconds,
``warnings``/``infos`` only when present, errors as
``{"status":"error","errorType":…,"error":…}`` with Prometheus's status codes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any, TypeVar
from urllib.parse import parse_qs

import numpy as np
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tidewell.api.prometheus.histogram_json import histogram_json
from tidewell.api.prometheus.params import (
    MAX_TIME_MS,
    MIN_TIME_MS,
    parse_duration_param,
    parse_matchers,
    parse_time,
)
from tidewell.api.prometheus.workers import QueryWorkers
from tidewell.model import (
    Exemplar,
    Labels,
    Matcher,
    MetricMetadata,
    Querier,
    Queryable,
    unescape_name,
)
from tidewell.promql.budget import QueryLimits
from tidewell.promql.engine import Engine, EngineOptions, QueryResult, RangeSeries
from tidewell.promql.errors import BadDataError, ParseError, PromQLError, QueryTimeoutError
from tidewell.promql.format import format_float, format_floats
from tidewell.promql.nodes import Expr, VectorSelector, walk
from tidewell.promql.parser import parse
from tidewell.querier.config import QuerierConfig
from tidewell.querier.meta import MetaSource
from tidewell.util.priority import WRITES

__all__ = ["extract_selectors", "query_routes"]

log = logging.getLogger("tidewell.api.prometheus")

T = TypeVar("T")

MAX_POINTS_PER_SERIES = 11_000
"""Prometheus rejects range queries asking for more points per series than this."""


def _ts(ms: int) -> float | int:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _error(err: Exception) -> Response:
    if isinstance(err, PromQLError):
        etype, status = err.error_type, err.status
    else:
        etype, status = "internal", 500
    return _json({"status": "error", "errorType": etype, "error": str(err)}, status)


def _success(data: Any, warnings: list[str] | None = None,
             infos: list[str] | None = None) -> Response:
    body: dict[str, Any] = {"status": "success", "data": data}
    if warnings:
        body["warnings"] = warnings
    if infos:
        body["infos"] = infos
    return _json(body)


def render_result(res: QueryResult, exact: bool = False) -> dict[str, Any]:
    """The ``data`` of a query answer; ``exact``: native histograms also as themselves."""
    if res.kind == "scalar":
        assert res.scalar is not None
        return {"resultType": "scalar", "result": [_ts(res.scalar[0]),
                                                   format_float(res.scalar[1])]}
    if res.kind == "string":
        assert res.string is not None
        return {"resultType": "string", "result": [_ts(res.string[0]), res.string[1]]}
    if res.kind == "vector":
        return {"resultType": "vector", "result": [_sample_dict(s, exact) for s in res.series]}
    return {"resultType": "matrix", "result": [_series_dict(s, exact) for s in res.series]}


def _sample_dict(s: RangeSeries, exact: bool = False) -> dict[str, Any]:
    if s.hists:
        return {"metric": dict(s.labels),
                "histogram": [_ts(int(s.hts[0])), histogram_json(s.hists[0], exact)]}
    return {"metric": dict(s.labels), "value": [_ts(int(s.ts[0])), format_float(s.vals[0])]}


def _series_dict(s: RangeSeries, exact: bool = False) -> dict[str, Any]:
    """A matrix series: ``values`` for float points, ``histograms`` for histogram points."""
    out: dict[str, Any] = {"metric": dict(s.labels)}
    if len(s.ts) or not s.hists:
        out["values"] = list(map(list, zip(_ts_list(s.ts), format_floats(s.vals), strict=True)))
    if s.hists:
        out["histograms"] = [[t, histogram_json(h, exact)]
                             for t, h in zip(_ts_list(s.hts), s.hists, strict=True)]
    return out


def _ts_list(ts: np.ndarray) -> list[float | int]:
    """Timestamps as Prometheus writes them: whole seconds without a fraction."""
    if not (ts % 1000).any():
        return (ts // 1000).tolist()  # type: ignore[no-any-return]
    return [_ts(t) for t in ts.tolist()]


_NP = orjson.OPT_SERIALIZE_NUMPY


def go_numbers(values: np.ndarray) -> list[bytes]:
    """Each float as Go's ``FormatFloat(v, 'f', -1, 64)`` prints it, as bytes.

    orjson's shortest round-trip digits equal Go's for magnitudes in [1e-4, 1e15),
    except that whole numbers end in ".0"; only the rest takes the slow path.
    """
    values = np.ascontiguousarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        mag = np.abs(values)
        whole = values == np.floor(values)
        odd = ~((mag < 1e15) & ((mag >= 1e-4) | (values == 0)))
    if not odd.any() and whole.all() and not np.signbit(values).any():
        return orjson.dumps(values.astype(np.int64), option=_NP)[1:-1].split(b",")
    parts = orjson.dumps(values, option=_NP)[1:-1].split(b",")
    for i in np.flatnonzero(whole & ~odd).tolist():
        parts[i] = parts[i][:-2]
    for i in np.flatnonzero(odd).tolist():
        parts[i] = format_float(float(values[i])).encode()
    return parts


def _points_json(ts: np.ndarray, vals: np.ndarray) -> bytes:
    """``[t,"v"],[t,"v"],…`` built from whole-array conversions and C-level joins."""
    if len(ts) == 0:
        return b""
    if (ts % 1000).any():
        tparts = go_numbers(ts / 1000.0)
    else:
        tparts = orjson.dumps(ts // 1000, option=_NP)[1:-1].split(b",")
    return b"[" + b'"],['.join(map(b',"'.join, zip(tparts, go_numbers(vals),
                                                    strict=True))) + b'"]'


def _result_response(res: QueryResult, exact: bool = False) -> Response:
    """The success body, assembled as bytes: building per-point lists for a JSON
    encoder costs more than formatting the points straight into the text. ``exact``:
    native histograms also as themselves (``histogram_json``)."""
    stats = b"" if res.stats is None else b',"stats":' + orjson.dumps(res.stats.json())
    if res.kind not in ("matrix", "vector"):
        data = render_result(res)
        if res.stats is not None:
            data["stats"] = res.stats.json()
        return _success(data, res.warnings, res.infos)
    parts = []
    for s in res.series:
        if s.hists:
            maker = _sample_dict if res.kind == "vector" else _series_dict
            parts.append(orjson.dumps(maker(s, exact)))
            continue
        metric = orjson.dumps(dict(s.labels))
        if res.kind == "vector":
            point = orjson.dumps([_ts(int(s.ts[0])), format_float(float(s.vals[0]))])
            parts.append(b'{"metric":' + metric + b',"value":' + point + b"}")
        else:
            parts.append(b'{"metric":' + metric + b',"values":['
                         + _points_json(s.ts, s.vals) + b"]}")
    body = (b'{"status":"success","data":{"resultType":"' + res.kind.encode()
            + b'","result":[' + b",".join(parts) + b"]" + stats + b"}")
    if res.warnings:
        body += b',"warnings":' + orjson.dumps(res.warnings)
    if res.infos:
        body += b',"infos":' + orjson.dumps(res.infos)
    return Response(body + b"}", media_type="application/json")


def _truncate(res: QueryResult, limit: int) -> QueryResult:
    """The ``limit`` parameter: keep the first ``limit`` series, and say so."""
    if limit and len(res.series) > limit:
        res.series = res.series[:limit]
        res.warnings = [*res.warnings, "results truncated due to limit"]
    return res


class _Params:
    """GET query string and form-encoded POST body, merged as Prometheus does."""

    def __init__(self, request: Request, form: Any) -> None:
        self.q = request.query_params
        self.form = form

    def get(self, name: str) -> str | None:
        if self.form and name in self.form:
            return self.form[name][0]
        return self.q.get(name)

    def getlist(self, name: str) -> list[str]:
        out = list(self.q.getlist(name))
        if self.form:
            out += self.form.get(name, [])
        return out


async def _params(request: Request) -> _Params:
    form: dict[str, list[str]] | None = None
    if request.method == "POST":
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("application/x-www-form-urlencoded"):
            # Parsed here rather than with request.form(), which needs python-multipart.
            body = (await request.body()).decode("utf-8", "replace")
            form = parse_qs(body, keep_blank_values=True)
    return _Params(request, form)


class _Queued:
    """An engine whose ``-querier.timeout`` counts from the request's arrival, so time
    spent waiting for a query worker is part of it (Prometheus: "in query queue")."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.arrived = time.monotonic()
        self.waited = 0.0

    def started(self) -> Engine:
        self.waited = time.monotonic() - self.arrived
        left = self.engine.opts.timeout_s - self.waited
        if left <= 0:
            raise QueryTimeoutError("query queue")
        return Engine(replace(self.engine.opts, timeout_s=left))

    def queued(self, res: QueryResult) -> QueryResult:
        """``res`` with the wait for a query worker in its statistics, if it has any."""
        if res.stats is not None:
            res.stats.timings["execQueueTime"] = self.waited
            res.stats.timings["execTotalTime"] += self.waited
        return res


def _query_param(fn: Callable[[], T]) -> T:
    """Run ``fn``; a syntax error in the query is Prometheus's bad ``query`` parameter."""
    try:
        return fn()
    except ParseError as e:
        raise BadDataError(f'invalid parameter "query": {e}') from None


def _answer(engine: _Queued, limit: int, exact: bool, res: QueryResult) -> Response:
    """The response body of a query, formatted on its worker thread: on the event loop
    the formatting would delay every push and ``/ready`` (issue 14); on the worker it
    steps aside for pushes in flight (``WRITES``)."""
    WRITES.checkpoint()
    return _result_response(_truncate(engine.queued(res), limit), exact)


def _exact(request: Request) -> bool:
    return request.headers.get("x-tidewell-histograms") == "exact"


def _tenant(request: Request) -> str:
    return getattr(request.state, "tenant", None) or "anonymous"


class _API:
    def __init__(self, queryable: Queryable, config: QuerierConfig,
                 meta: MetaSource | None,
                 tenant_limits: Callable[[str], QueryLimits] | None = None,
                 delayed_name_removal: Callable[[str], bool] | None = None) -> None:
        self.queryable = queryable
        self.config = config
        self.meta = meta
        self.tenant_limits = tenant_limits
        self.delayed_name_removal = delayed_name_removal
        self.engine = Engine(EngineOptions(
            lookback_delta_ms=round(config.lookback_delta * 1000),
            max_samples=config.max_samples, timeout_s=config.timeout,
            default_subquery_step_ms=round(config.default_evaluation_interval * 1000)))
        self.engine.warm_up()
        self.workers = QueryWorkers(config.max_concurrent)

    def _engine_for(self, p: _Params, tenant: str) -> Engine:
        """The engine with this request's ``timeout`` and this tenant's limits and
        ``enable_delayed_name_removal``, if any."""
        t = p.get("timeout")
        if not t and self.tenant_limits is None and self.delayed_name_removal is None:
            return self.engine
        opts = self.engine.opts
        if t:
            timeout = parse_duration_param(t, "timeout") / 1000
            opts = replace(opts, timeout_s=min(timeout, self.config.timeout))
        if self.tenant_limits is not None:
            opts = replace(opts, **asdict(self.tenant_limits(tenant)))
        if self.delayed_name_removal is not None:
            opts = replace(opts, delayed_name_removal=self.delayed_name_removal(tenant))
        return Engine(opts)

    async def _run(self, fn: Any) -> Any:
        cancel = threading.Event()
        try:
            return await self.workers.run(lambda: fn(cancel))
        finally:
            cancel.set()

    async def query(self, request: Request) -> Response:
        try:
            p = await _params(request)
            limit = self._limit(p)
            q = p.get("query") or ""
            t = p.get("time")
            ts = parse_time(t, "time") if t else int(time.time() * 1000)
            tenant = _tenant(request)
            engine = _Queued(self._engine_for(p, tenant))
            stats = p.get("stats") or ""
            exact = _exact(request)
            return await self._run(lambda c: _answer(engine, limit, exact, _query_param(
                lambda: engine.started().instant_query(self.queryable, tenant, q, ts, cancel=c,
                                                       stats=stats))))
        except Exception as e:
            return self._fail(e)

    async def query_range(self, request: Request) -> Response:
        try:
            p = await _params(request)
            limit = self._limit(p)
            start = parse_time(p.get("start") or "", "start")
            end = parse_time(p.get("end") or "", "end")
            if end < start:
                raise BadDataError('invalid parameter "end": end timestamp must not be before '
                                   "start time")
            step = parse_duration_param(p.get("step") or "", "step")
            if step <= 0:
                raise BadDataError('invalid parameter "step": zero or negative query '
                                   "resolution step widths are not accepted. Try a positive "
                                   "integer")
            if (end - start) // step > MAX_POINTS_PER_SERIES:
                raise BadDataError("exceeded maximum resolution of 11,000 points per timeseries. "
                                   "Try decreasing the query resolution (?step=XX)")
            q = p.get("query") or ""
            tenant = _tenant(request)
            engine = _Queued(self._engine_for(p, tenant))
            stats = p.get("stats") or ""
            exact = _exact(request)
            return await self._run(lambda c: _answer(engine, limit, exact, _query_param(
                lambda: engine.started().range_query(self.queryable, tenant, q, start, end, step,
                                                     cancel=c, stats=stats))))
        except Exception as e:
            return self._fail(e)

    def _range(self, p: _Params) -> tuple[int, int]:
        s, e = p.get("start"), p.get("end")
        start = parse_time(s, "start") if s else MIN_TIME_MS
        end = parse_time(e, "end") if e else MAX_TIME_MS
        if end < start:
            raise BadDataError('invalid parameter "end": end timestamp must not be before start '
                               "time")
        return start, end

    def _limit(self, p: _Params) -> int:
        v = p.get("limit")
        if not v:
            return 0
        try:
            n = int(v)
        except ValueError:
            raise BadDataError('invalid parameter "limit": cannot parse "' + v +
                               '" to a valid limit') from None
        if n < 0:
            raise BadDataError('invalid parameter "limit": limit must be non-negative')
        return n

    async def series(self, request: Request) -> Response:
        def run(q: Querier, sets: list[list[Matcher]]) -> list[dict[str, str]]:
            seen: dict[Any, None] = {}
            for ms in sets:
                for s in q.select(ms):
                    seen[s.labels] = None
            return [dict(lb) for lb in sorted(seen)]

        return await self._matching(request, run, need_match=True)

    async def labels(self, request: Request) -> Response:
        def run(q: Querier, sets: list[list[Matcher]]) -> list[str]:
            return sorted({n for ms in sets for n in q.label_names(ms)})

        return await self._matching(request, run)

    async def label_values(self, request: Request) -> Response:
        name = unescape_name(request.path_params["name"])

        def run(q: Querier, sets: list[list[Matcher]]) -> list[str]:
            return sorted({v for ms in sets for v in q.label_values(name, ms)})

        return await self._matching(request, run)

    async def _matching(self, request: Request,
                        fn: Callable[[Querier, list[list[Matcher]]], list[Any]],
                        need_match: bool = False) -> Response:
        """``fn(querier, match[] sets)`` over the request's range in a worker, its list
        cut to ``limit`` (with a warning): what series and label queries share."""
        try:
            p = await _params(request)
            match = p.getlist("match[]")
            if need_match and not match:
                raise BadDataError("no match[] parameter provided")
            sets = parse_matchers(match) or [[]]
            start, end = self._range(p)
            limit = self._limit(p)
            tenant = _tenant(request)
            data = await self._run(
                lambda _cancel: fn(self.queryable.querier(tenant, start, end), sets))
            warnings = []
            if limit and len(data) > limit:
                data = data[:limit]
                warnings.append("results truncated due to limit")
            return _success(data, warnings)
        except Exception as e:
            return self._fail(e)

    async def format_query(self, request: Request) -> Response:
        try:
            p = await _params(request)
            q = p.get("query") or ""
            return _success(await self._run(lambda _c: _query_param(lambda: str(parse(q)))))
        except Exception as e:
            return self._fail(e)

    async def metadata(self, request: Request) -> Response:
        """Prometheus's ``/api/v1/metadata``: ``{family: [{type, help, unit}, …]}``."""
        try:
            p = await _params(request)
            limit = _int_param(p, "limit")
            limit_per_metric = _int_param(p, "limit_per_metric")
            metric = p.get("metric") or ""
            tenant = _tenant(request)
            meta = self.meta
            items: list[MetricMetadata] = [] if meta is None else await self._run(
                lambda _c: meta.metadata(tenant, limit, limit_per_metric, metric))
            data: dict[str, list[dict[str, str]]] = {}
            for md in items:
                data.setdefault(md.metric_family_name, []).append(
                    {"type": md.type.api_name, "help": md.help, "unit": md.unit})
            return _success(data)
        except Exception as e:
            return self._fail(e)

    async def exemplars(self, request: Request) -> Response:
        """Prometheus's ``/api/v1/query_exemplars``: exemplars of the query's selectors."""
        try:
            p = await _params(request)
            s, e = p.get("start"), p.get("end")
            start = parse_time(s, "start") if s else MIN_TIME_MS
            end = parse_time(e, "end") if e else MAX_TIME_MS
            if end < start:
                raise BadDataError("end timestamp must not be before start timestamp")
            q = p.get("query") or ""
            try:
                expr = await self._run(lambda _c: parse(q))  # deep expressions: worker stacks
            except ParseError as err:
                raise BadDataError(str(err)) from None
            sets = extract_selectors(expr)
            if not sets:
                return _success(None)
            tenant = _tenant(request)
            meta = self.meta
            found: list[tuple[Labels, list[Exemplar]]] = [] if meta is None else await self._run(
                lambda _c: meta.exemplars(tenant, start, end, sets))
            return _success([
                {"seriesLabels": dict(labels),
                 "exemplars": [{"labels": dict(x.labels), "value": format_float(x.value),
                                "timestamp": _ts(x.timestamp)} for x in exs]}
                for labels, exs in found])
        except Exception as e:
            return self._fail(e)

    def _fail(self, e: Exception) -> Response:
        if not isinstance(e, PromQLError):
            log.exception("query API internal error")
        return _error(e)


def extract_selectors(expr: Expr) -> list[list[Matcher]]:
    """The matchers of every vector selector in ``expr`` (Prometheus's ``ExtractSelectors``)."""
    return [list(node.matchers) for node, _ in walk(expr) if isinstance(node, VectorSelector)]


def _int_param(p: _Params, name: str) -> int:
    """An optional integer parameter of ``/api/v1/metadata``; -1 when absent."""
    v = p.get(name)
    if not v:
        return -1
    try:
        return int(v)
    except ValueError:
        raise BadDataError(f"{name} must be a number") from None


def query_routes(queryable: Queryable, config: QuerierConfig,
                 meta: MetaSource | None = None,
                 tenant_limits: Callable[[str], QueryLimits] | None = None,
                 delayed_name_removal: Callable[[str], bool] | None = None) -> list[BaseRoute]:
    """Routes of Prometheus's query API, to be mounted under ``/prometheus``.

    ``meta`` serves exemplars and metadata (the ingesters); without it both are empty.
    ``tenant_limits`` gives a tenant's query limits (from the per-tenant overrides);
    without it only ``-querier.max-samples`` and ``-querier.timeout`` apply.
    ``delayed_name_removal`` gives a tenant's ``enable_delayed_name_removal`` (default off).
    """
    api = _API(queryable, config, meta, tenant_limits, delayed_name_removal)
    both = ["GET", "POST"]
    return [
        Route("/api/v1/query", api.query, methods=both),
        Route("/api/v1/query_range", api.query_range, methods=both),
        Route("/api/v1/series", api.series, methods=both),
        Route("/api/v1/labels", api.labels, methods=both),
        Route("/api/v1/label/{name}/values", api.label_values, methods=["GET"]),
        Route("/api/v1/format_query", api.format_query, methods=both),
        Route("/api/v1/metadata", api.metadata, methods=["GET"]),
        Route("/api/v1/query_exemplars", api.exemplars, methods=both),
    ]
