"""Sharded and unsharded answers side by side on the conformance scripts' data.

Each script's data is in the real storage (``storage.py``); a querier's Prometheus
API serves it (in-process, over ASGI) and a query-frontend with query sharding on
sends every eval's query to it twice: through the sharding middleware, and
straight to the querier. Both answers must agree: same result type, same series,
values within the scripts' own tolerance (partial sums add up in another order).
"""

from __future__ import annotations

import asyncio
import math
import sys
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import Mount

sys.path.insert(0, str(Path(__file__).parent))

from promqltest import Eval, Outcome, almost_equal
from storage import StorageScript

from tidewell.api.prometheus.routes import query_routes
from tidewell.frontend import FrontendConfig, HTTPDownstream, QueryFrontend, QueryRequest
from tidewell.frontend.request import INSTANT, RANGE
from tidewell.frontend.sharding import ShardingLimits, plan
from tidewell.querier.config import QuerierConfig

SHARDS = 3


def _num(v: str) -> float:
    return float(v)


def _points(s: dict[str, Any]) -> list[tuple[float, Any]]:
    if "value" in s:
        return [(s["value"][0], _num(s["value"][1]))]
    if "histogram" in s:
        return [(s["histogram"][0], s["histogram"][1])]
    out = [(t, _num(v)) for t, v in s.get("values", [])]
    return out + [(t, h) for t, h in s.get("histograms", [])]


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return almost_equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_value(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, str) and isinstance(b, str):
        try:
            fa, fb = float(a), float(b)
        except ValueError:
            return a == b
        return almost_equal(fa, fb) or (math.isnan(fa) and math.isnan(fb))
    return bool(a == b)


def differences(sharded: dict[str, Any], direct: dict[str, Any]) -> str | None:
    """Where two API answers disagree, or None."""
    if sharded["status"] != direct["status"]:
        return f"status {sharded['status']} vs {direct['status']}: {sharded.get('error')} / " \
               f"{direct.get('error')}"
    if direct["status"] != "success":
        return None
    a, b = sharded["data"], direct["data"]
    if a["resultType"] != b["resultType"]:
        return f"result type {a['resultType']} vs {b['resultType']}"
    if a["resultType"] in ("scalar", "string"):
        return None if _same_value(a["result"], b["result"]) else f"{a['result']} vs {b['result']}"
    sa = {tuple(sorted(s["metric"].items())): _points(s) for s in a["result"]}
    sb = {tuple(sorted(s["metric"].items())): _points(s) for s in b["result"]}
    if sa.keys() != sb.keys():
        return f"series {sorted(sa.keys() ^ sb.keys())[:3]} in one answer only"
    for k in sa:
        if not _same_value([list(p) for p in sa[k]], [list(p) for p in sb[k]]):
            return f"{dict(k)}: {sa[k][:4]} vs {sb[k][:4]}"
    return None


class ShardingScript(StorageScript):
    """Runs every shardable eval of a script sharded and unsharded; an eval's outcome
    is whether the two agree (what the script expects is the other runs' business)."""

    def __init__(self, path: Path, root: Path) -> None:
        super().__init__(path, root)
        self.sharded_evals = 0
        self.loop = asyncio.Runner()
        app = Starlette(routes=[Mount("/prometheus", routes=query_routes(
            self.storage, QuerierConfig(), delayed_name_removal=lambda t: True))])
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
                                   base_url="http://querier", timeout=None)
        limits = ShardingLimits(lambda t: SHARDS, lambda t: 0, lambda t: True)
        config = FrontendConfig(parallelize_shardable_queries=True, split_queries_by_interval=0,
                                cache_results=False)
        self.frontend = QueryFrontend(config, HTTPDownstream(client), sharding=limits)

    def _exec(self, ev: Eval) -> str | None:
        if plan(ev.expr, SHARDS, 0, 1, True) is None:
            return None
        self.sharded_evals += 1
        self.queryable()  # (re)load the storage before the querier reads it
        return self.loop.run(self._compare_both(ev))

    async def _compare_both(self, ev: Eval) -> str | None:
        cases = [QueryRequest(INSTANT, "test", ev.expr, ev.start, ev.start)] if ev.instant \
            else [QueryRequest(RANGE, "test", ev.expr, ev.start, ev.end, ev.step)]
        if ev.instant:  # and a range around it, as the in-memory run checks
            cases.append(QueryRequest(RANGE, "test", ev.expr, ev.start - 60_000,
                                      ev.start + 60_000, 60_000))
        for req in cases:
            sharded = (await self.frontend.do(req)).json()
            direct = (await self.frontend.downstream.do(req)).json()
            diff = differences(sharded, direct)
            if diff:
                return f"{req.kind}: {diff}"
        return None

    def run(self) -> list[Outcome]:
        try:
            return super().run()
        finally:
            self.loop.run(self.frontend.close())
            self.loop.close()


def run_sharded(path: Path, root: Path) -> tuple[list[Outcome], int]:
    """Outcomes of ``path``'s evals and how many of them were sharded."""
    script = ShardingScript(path, root)
    return script.run(), script.sharded_evals
