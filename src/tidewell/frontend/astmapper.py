"""Rewriting a PromQL expression into per-shard queries, as Mimir's ``astmapper`` does.

A shardable leg (``sum``/``min``/``max``/``count``/``avg``/``group`` over an
expression without nested aggregations; a comparison against a constant; a
function over a subquery) becomes M copies of itself, the i-th with
``__query_shard__="i_of_M"`` on every selector, squashed into one *embedded*
vector selector ``__embedded_queries__{__queries__="{"Concat":[…]}"}``. The
frontend runs the embedded queries on the queriers and evaluates the rest of
the expression over their answers:

    sum by (a) (rate(x[1m]))  →  sum by (a) (concat of sum by (a) (rate(x{shard i}[1m])))
    count(x)                  →  sum(concat of count(x{shard i}))
    avg(x)                    →  (sum(concat of sum(…)) / sum(concat of count(…)))

What cannot be sharded is left alone; finally every subtree that still reads
storage and holds no embedded query is folded into one embedded query of its
own (Mimir's subtree folder), so the frontend's engine never reads storage. A
folded scalar subtree is wrapped as ``scalar(…)``, keeping its type.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from tidewell.model import METRIC_NAME, Matcher, MatchType
from tidewell.model.shard import ShardSelector
from tidewell.promql import nodes as ast

__all__ = [
    "EMBEDDED_LABEL",
    "EMBEDDED_METRIC",
    "NON_PARALLEL_FUNCS",
    "ShardedQuery",
    "can_parallelize",
    "decode_embedded",
    "names_matter_late",
    "shard_expr",
]

EMBEDDED_METRIC = "__embedded_queries__"
EMBEDDED_LABEL = "__queries__"

_SUMMABLE = frozenset({"sum", "min", "max", "count", "avg", "group"})
_SHARDABLE_BINOPS = frozenset({">", ">=", "<", "<="})
NON_PARALLEL_FUNCS = frozenset({
    # Mimir's list: these look at more than one series at a time, or at none.
    "absent", "absent_over_time", "info", "histogram_quantile", "limitk", "limit_ratio",
    "sort", "sort_desc", "sort_by_label", "sort_by_label_desc", "time", "vector",
    "histogram_avg",
    # Ours besides: classic-bucket functions group the ``le`` series of one histogram,
    # and the query-context scalars are constants only to the frontend's engine.
    "histogram_quantiles", "histogram_fraction", "step", "range", "start", "end",
    "min_of", "max_of",
})
_NOT_UNDER = frozenset({"info", "absent", "absent_over_time"})
"""Nothing under these is sharded: ``info`` selects series of its own, ``absent`` takes
labels from its argument's selector, which the frontend's engine must never see."""
_TIME_DEFAULT_FUNCS = frozenset({"day_of_month", "day_of_week", "day_of_year",
                                 "days_in_month", "hour", "minute", "month", "year"})


@dataclass
class ShardedQuery:
    """The rewritten expression and how many per-shard queries it embeds."""

    expr: ast.Expr
    sharded_queries: int = 0

    def __str__(self) -> str:
        return str(self.expr)


def _any(node: ast.Expr, pred: Callable[[ast.Expr], bool]) -> bool:
    return any(pred(n) for n, _ in ast.walk(node))


def _is_aggregate(n: ast.Expr) -> bool:
    return isinstance(n, ast.AggregateExpr)


def _not_constant_number(n: ast.Expr) -> bool:
    if isinstance(n, ast.NumberLiteral | ast.UnaryExpr | ast.ParenExpr):
        return False
    if isinstance(n, ast.BinaryExpr):
        return n.return_bool
    if isinstance(n, ast.Call):
        return n.func != "time"
    return True


def _is_constant_scalar(n: ast.Expr) -> bool:
    return not _any(n, _not_constant_number)


def _args(call: ast.Call) -> list[ast.Expr]:
    """Arguments with the omitted ``time()`` default of the date functions made explicit."""
    if call.func in _TIME_DEFAULT_FUNCS and not call.args:
        return [ast.Call("time", [], ret=ast.SCALAR)]
    return list(call.args)


def _is_subquery_call(call: ast.Call) -> bool:
    def sub(e: ast.Expr) -> bool:
        while isinstance(e, ast.ParenExpr):
            e = e.expr
        return isinstance(e, ast.SubqueryExpr)
    return any(sub(a) for a in call.args)


def can_parallelize(e: ast.Expr | None) -> bool:
    """Whether every part of ``e`` gives the same answer run per shard and concatenated."""
    if e is None:
        return True
    if isinstance(e, ast.AggregateExpr):
        return (e.op in _SUMMABLE and not _any(e.expr, _is_aggregate)
                and can_parallelize(e.expr))
    if isinstance(e, ast.BinaryExpr):
        def par(a: ast.Expr, b: ast.Expr) -> bool:
            return (can_parallelize(a) and not _any(a, _is_aggregate)
                    and not _is_constant_scalar(a) and _is_constant_scalar(b))
        both_vectors = e.lhs.type() != ast.SCALAR and e.rhs.type() != ast.SCALAR
        return not both_vectors and not e.return_bool and (par(e.lhs, e.rhs)
                                                          or par(e.rhs, e.lhs))
    if isinstance(e, ast.Call):
        return e.func not in NON_PARALLEL_FUNCS and all(can_parallelize(a) for a in _args(e))
    if isinstance(e, ast.SubqueryExpr):
        return not _any(e, _is_aggregate) and can_parallelize(e.expr)
    if isinstance(e, ast.ParenExpr):
        return can_parallelize(e.expr)
    if isinstance(e, ast.UnaryExpr):
        return True
    if isinstance(e, ast.VectorSelector):
        return not (e.anchored or e.smoothed) and e.name != EMBEDDED_METRIC
    if isinstance(e, ast.MatrixSelector):
        return can_parallelize(e.vs)
    return isinstance(e, ast.NumberLiteral | ast.StringLiteral)


def _will_shard_all_selectors(e: ast.Expr) -> bool:
    """Mimir's ``ShardingAnalyzer``: would every selector under ``e`` end up sharded?"""
    if isinstance(e, ast.VectorSelector | ast.MatrixSelector | ast.SubqueryExpr):
        return False
    if isinstance(e, ast.ParenExpr | ast.UnaryExpr):
        return _will_shard_all_selectors(e.expr)
    if isinstance(e, ast.AggregateExpr):
        if can_parallelize(e):
            return True
        return _will_shard_all_selectors(e.expr) and (
            e.param is None or _will_shard_all_selectors(e.param))
    if isinstance(e, ast.BinaryExpr):
        if e.op in _SHARDABLE_BINOPS and can_parallelize(e):
            return True
        return _will_shard_all_selectors(e.lhs) and _will_shard_all_selectors(e.rhs)
    if isinstance(e, ast.Call):
        if _is_subquery_call(e):
            return not _any(e, _is_aggregate) and can_parallelize(e)
        return all(_will_shard_all_selectors(a) for a in _args(e))
    return isinstance(e, ast.NumberLiteral | ast.StringLiteral)


def clone(e: ast.Expr) -> ast.Expr:
    """A copy of the tree that the mapper may change without touching ``e``."""
    c = copy.copy(e)
    if isinstance(c, ast.ParenExpr | ast.UnaryExpr | ast.SubqueryExpr):
        c.expr = clone(c.expr)
    elif isinstance(c, ast.BinaryExpr):
        c.lhs, c.rhs = clone(c.lhs), clone(c.rhs)
    elif isinstance(c, ast.AggregateExpr):
        c.expr = clone(c.expr)
        c.param = None if c.param is None else clone(c.param)
        c.grouping = list(c.grouping)
    elif isinstance(c, ast.Call):
        c.args = [clone(a) for a in c.args]
    elif isinstance(c, ast.MatrixSelector):
        c.vs = clone(c.vs)  # type: ignore[assignment]
    elif isinstance(c, ast.VectorSelector):
        c.matchers = list(c.matchers)
    return c


def embedded_selector(queries: list[str]) -> ast.VectorSelector:
    """The vector selector standing for the concatenated answers of ``queries``."""
    doc = orjson.dumps({"Concat": [{"Expr": q} for q in queries]}).decode()
    return ast.VectorSelector(EMBEDDED_METRIC, [
        Matcher(MatchType.EQUAL, METRIC_NAME, EMBEDDED_METRIC),
        Matcher(MatchType.EQUAL, EMBEDDED_LABEL, doc)])


def decode_embedded(value: str) -> list[str]:
    """The queries of an embedded selector's ``__queries__`` value."""
    return [q["Expr"] for q in orjson.loads(value)["Concat"]]


class _Summer:
    """Mimir's ``shardSummer``: rewrites shardable legs, ``shard`` set while inside one."""

    def __init__(self, shards: int, out: ShardedQuery, shard: int | None = None) -> None:
        self.shards = shards
        self.out = out
        self.shard = shard

    def at(self, shard: int) -> _Summer:
        return _Summer(self.shards, self.out, shard)

    def map(self, e: ast.Expr) -> ast.Expr:
        mapped, finished = self.map_expr(e)
        if finished:
            return mapped
        if isinstance(mapped, ast.AggregateExpr):
            mapped.expr = self.map(mapped.expr)
            if mapped.param is not None:
                mapped.param = self.map(mapped.param)
        elif isinstance(mapped, ast.BinaryExpr):
            mapped.lhs, mapped.rhs = self.map(mapped.lhs), self.map(mapped.rhs)
        elif isinstance(mapped, ast.Call):
            mapped.args = [self.map(a) for a in mapped.args]
        elif isinstance(mapped, ast.SubqueryExpr | ast.ParenExpr | ast.UnaryExpr):
            mapped.expr = self.map(mapped.expr)
        elif isinstance(mapped, ast.MatrixSelector):
            mapped.vs = self.map(mapped.vs)  # type: ignore[assignment]
        return mapped

    def map_expr(self, e: ast.Expr) -> tuple[ast.Expr, bool]:
        inside = self.shard is not None
        if isinstance(e, ast.AggregateExpr):
            if not inside and can_parallelize(e):
                return self.shard_aggregate(e)
            return e, False
        if isinstance(e, ast.VectorSelector):
            if inside:
                assert self.shard is not None
                e.matchers = [ShardSelector(self.shard, self.shards).matcher(), *e.matchers]
            return e, True
        if isinstance(e, ast.Call):
            if e.func in _NOT_UNDER:
                return e, True
            if not inside and _is_subquery_call(e):
                if _any(e, _is_aggregate) or not can_parallelize(e):
                    return e, True
                return self.squash(lambda s: s.map(clone(e))), True
            return e, False
        if isinstance(e, ast.BinaryExpr):
            if inside:
                return e, False
            if can_parallelize(e):
                if e.op not in _SHARDABLE_BINOPS:
                    return e, False
                return self.squash(lambda s: ast.BinaryExpr(
                    e.op, s.map(clone(e.lhs)), s.map(clone(e.rhs)), e.return_bool)), True
            return e, not _will_shard_all_selectors(e)
        if isinstance(e, ast.SubqueryExpr):
            return e, not inside
        return e, False

    def squash(self, per_shard: Callable[[_Summer], ast.Expr]) -> ast.VectorSelector:
        queries = [str(per_shard(self.at(i))) for i in range(self.shards)]
        self.out.sharded_queries += self.shards
        return embedded_selector(queries)

    def partial(self, e: ast.AggregateExpr, op: str) -> ast.VectorSelector:
        return self.squash(lambda s: ast.AggregateExpr(
            op, s.map(clone(e.expr)), None, list(e.grouping), e.without, e.has_grouping))

    def shard_aggregate(self, e: ast.AggregateExpr) -> tuple[ast.Expr, bool]:
        def outer(op: str, inner: ast.Expr) -> ast.AggregateExpr:
            return ast.AggregateExpr(op, inner, e.param, list(e.grouping), e.without,
                                     e.has_grouping)
        if e.op in ("sum", "min", "max", "group"):
            return outer(e.op, self.partial(e, e.op)), True
        if e.op == "count":
            return outer("sum", self.partial(e, "count")), True
        # avg: the sum of per-shard sums over the sum of per-shard counts
        total = outer("sum", self.partial(e, "sum"))
        count = outer("sum", self.partial(e, "count"))
        return ast.ParenExpr(ast.BinaryExpr("/", total, count)), True


def _fold(e: ast.Expr) -> ast.Expr:
    """Mimir's subtree folder: embed every subtree that reads storage and holds no
    embedded query yet, so the frontend's engine reads nothing itself."""
    has_embedded = _any(e, lambda n: isinstance(n, ast.VectorSelector)
                        and n.name == EMBEDDED_METRIC)
    if not has_embedded:
        if not _any(e, lambda n: isinstance(n, ast.VectorSelector)):
            return e
        t = e.type()
        if t == ast.VECTOR:
            return embedded_selector([str(e)])
        if t == ast.SCALAR:
            return ast.Call("scalar", [embedded_selector([str(e)])], ret=ast.SCALAR)
    if isinstance(e, ast.AggregateExpr):
        e.expr = _fold(e.expr)
        if e.param is not None:
            e.param = _fold(e.param)
    elif isinstance(e, ast.BinaryExpr):
        e.lhs, e.rhs = _fold(e.lhs), _fold(e.rhs)
    elif isinstance(e, ast.Call):
        e.args = [_fold(a) for a in e.args]
    elif isinstance(e, ast.SubqueryExpr | ast.ParenExpr | ast.UnaryExpr):
        e.expr = _fold(e.expr)
    return e


def names_matter_late(expr: ast.Expr) -> bool:
    """Whether, with delayed name removal, ``__name__`` is still read after a shard's
    answer was shaped (which drops it): ``label_replace``/``label_join`` or a grouping
    by ``__name__``. Such queries are not sharded then."""
    for n, _ in ast.walk(expr):
        if isinstance(n, ast.Call) and n.func in ("label_replace", "label_join"):
            return True
        if isinstance(n, ast.AggregateExpr) and not n.without and METRIC_NAME in n.grouping:
            return True
    return False


def shard_expr(expr: ast.Expr, shards: int) -> ShardedQuery:
    """``expr`` rewritten for ``shards`` shards; ``sharded_queries == 0`` means nothing in it
    could be sharded (run it as it is). ``expr`` itself is left unchanged."""
    out = ShardedQuery(expr)
    mapped = _Summer(shards, out).map(clone(expr))
    if out.sharded_queries:
        out.expr = _fold(mapped)
    return out
