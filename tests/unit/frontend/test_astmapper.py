"""The shard rewrite: which queries are sharded, into what, and what is left alone."""

from __future__ import annotations

import pytest

from tidewell.frontend.astmapper import (
    EMBEDDED_METRIC,
    can_parallelize,
    decode_embedded,
    names_matter_late,
    shard_expr,
)
from tidewell.promql import nodes as ast
from tidewell.promql.parser import parse


def legs(query: str, shards: int = 3) -> tuple[str, list[list[str]]]:
    """The rewritten query with each embedded selector shown as ``E<i>``, and the legs."""
    out = shard_expr(parse(query), shards)
    found: list[list[str]] = []
    tree = parse(str(out))  # the rewritten query must parse
    for node, _ in ast.walk(tree):
        if isinstance(node, ast.VectorSelector) and node.name == EMBEDDED_METRIC:
            found.append(decode_embedded(node.matchers[1].value))
            node.name, node.matchers = f"E{len(found) - 1}", []
    assert out.sharded_queries == sum(len(g) for g in found if len(g) == shards)
    return str(tree), found


def test_sum_by_runs_per_shard_and_sums_the_partial_sums() -> None:
    outer, found = legs("sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m]))")
    assert outer == "sum by (job) (E0)"
    assert found == [[f'sum by (job) (rate(http_requests_total{{__query_shard__="{i}_of_3",'
                      f'code=~"5.."}}[5m]))' for i in (1, 2, 3)]]


@pytest.mark.parametrize(("query", "outer", "inner"), [
    ("count without (i) (x)", "sum without (i) (E0)",
     "count without (i) (x{__query_shard__=\"1_of_3\"})"),
    ("max(x)", "max(E0)", "max(x{__query_shard__=\"1_of_3\"})"),
    ("min by (a) (x)", "min by (a) (E0)", "min by (a) (x{__query_shard__=\"1_of_3\"})"),
    ("group(x)", "group(E0)", "group(x{__query_shard__=\"1_of_3\"})"),
    ("x > 5", "E0", "x{__query_shard__=\"1_of_3\"} > 5"),
    ("max_over_time(rate(x[1m])[10m:1m])", "E0",
     "max_over_time(rate(x{__query_shard__=\"1_of_3\"}[1m])[10m:1m])"),
])
def test_shardable_shapes(query: str, outer: str, inner: str) -> None:
    got_outer, found = legs(query)
    assert got_outer == outer and found[0][0] == inner and len(found[0]) == 3


def test_avg_is_sum_over_count_and_each_leg_is_sharded() -> None:
    outer, found = legs("avg by (a) (x)")
    assert outer == "(sum by (a) (E0) / sum by (a) (E1))"
    assert found[0][2] == 'sum by (a) (x{__query_shard__="3_of_3"})'
    assert found[1][2] == 'count by (a) (x{__query_shard__="3_of_3"})'


def test_an_unshardable_outer_keeps_its_shardable_inner_legs() -> None:
    outer, found = legs("topk(5, sum by (a) (rate(x[1m]))) * 2")
    assert outer == "topk(5, sum by (a) (E0)) * 2" and len(found[0]) == 3
    # What is not sharded under a sharded query runs whole: the frontend reads nothing.
    outer, found = legs("absent(sum(x)) + on () sum(y)")
    assert outer == "E0 + on () sum(E1)"
    assert found[0] == ["absent(sum(x))"] and len(found[1]) == 3
    outer, found = legs("sum(x) * scalar(absent(sum(y)))")  # a scalar stays a scalar
    assert outer == "sum(E0) * scalar(E1)" and found[1] == ["scalar(absent(sum(y)))"]
    # Pessimistic as Mimir: a leg that cannot be sharded keeps the other one whole.
    assert shard_expr(parse("sum(x) * scalar(y)"), 3).sharded_queries == 0
    outer, found = legs("sum(sum by (a) (x))")  # as Mimir shards avg(count(x))
    assert outer == "sum(sum by (a) (E0))"


@pytest.mark.parametrize("query", [
    "quantile(0.9, x)", "topk(3, x)", "x + on (a) y", "sum(x) / scalar(y)", "x > bool 5",
    "histogram_quantile(0.9, rate(x_bucket[5m]))", "absent(sum(x))", "info(sum(x))",
    "rate(x[5m])", "x", "vector(1)", "sum(x) > on () sum(y) + z",
])
def test_unshardable_queries_are_left_alone(query: str) -> None:
    out = shard_expr(parse(query), 4)
    assert out.sharded_queries == 0
    assert str(out) == str(parse(query))


def test_the_input_tree_is_not_changed() -> None:
    tree = parse("sum(rate(x[1m])) + avg(y)")
    before = str(tree)
    shard_expr(tree, 8)
    assert str(tree) == before


def test_can_parallelize_follows_mimir() -> None:
    assert can_parallelize(parse("sum(rate(x[1m]) * 2)"))
    assert not can_parallelize(parse("sum(sum(x))"))  # nested aggregation
    assert not can_parallelize(parse("sum(x * y)"))  # vector matching
    assert not can_parallelize(parse("sum(sort(x))"))
    assert not can_parallelize(parse("sum(hour())"))  # hour() defaults to time()


def test_names_matter_late() -> None:
    assert names_matter_late(parse('label_replace(sum(x), "a", "$1", "__name__", "(.*)")'))
    assert names_matter_late(parse("sum by (__name__) (rate(x[1m]))"))
    assert not names_matter_late(parse("sum without (__name__) (x)"))
    assert not names_matter_late(parse("sum by (job) (rate(x[1m]))"))
