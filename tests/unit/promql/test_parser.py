"""Parser: positions on errors, round-tripping, the syntax Prometheus 3 added."""

from __future__ import annotations

import pytest

from tidewell.promql import nodes as ast
from tidewell.promql.errors import ParseError
from tidewell.promql.parser import parse


@pytest.mark.parametrize("query", [
    'sum by (job) (rate(http_requests_total{job=~"api.*"}[5m] offset 1m))',
    "metric @ 100.000 offset -5m",
    "max_over_time(rate(x[5m])[30m:1m] @ end())",
    "a + on (job) group_left (team) fill_left (0) b",
    "increase(metric[1m] anchored)",
    "count_over_time(m[step() + 1ms])",
    'histogram_quantiles(h, "q", 0.5, 0.9)',
    "topk(3, x) unless bottomk(1, x)",
    '{"dotted.name", "a.b"="c"}',
])
def test_round_trip(query: str) -> None:
    tree = parse(query)
    again = parse(str(tree))
    assert str(again) == str(tree)


def test_error_position() -> None:
    with pytest.raises(ParseError) as exc:
        parse("sum(rate(x[5m])")
    assert str(exc.value).startswith("1:16: parse error:")
    with pytest.raises(ParseError) as exc:
        parse("foo{a=~}")
    assert str(exc.value).startswith("1:")


@pytest.mark.parametrize(("query", "message"), [
    ("rate(x)", 'expected type range vector in call to function "rate", got instant vector'),
    ("{}", "vector selector must contain at least one non-empty matcher"),
    ("1 > 2", "comparisons between scalars must use BOOL modifier"),
    ("x and 1", 'set operator "and" not allowed in binary scalar expression'),
    ("nosuchfn(x)", 'unknown function with name "nosuchfn"'),
    ("sum(x, y)", "wrong number of arguments"),
])
def test_type_errors(query: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse(query)


def test_precedence() -> None:
    tree = parse("-2 ^ 2 * 3")
    assert isinstance(tree, ast.BinaryExpr) and tree.op == "*"
    assert isinstance(tree.lhs, ast.UnaryExpr)  # -(2^2)
    tree = parse("a or b and c")
    assert isinstance(tree, ast.BinaryExpr) and tree.op == "or"


def test_offset_takes_one_atom() -> None:
    tree = parse("m offset 100 + 2")
    assert isinstance(tree, ast.BinaryExpr) and tree.op == "+"
    sel = tree.lhs
    assert isinstance(sel, ast.VectorSelector)
    assert sel.mods.offset is not None and sel.mods.offset.eval({}) == 100


def test_go_inline_flags() -> None:
    sel = parse('x{a=~"((?i)pro).*"}')
    assert sel.matchers[1].matches("PROd")  # type: ignore[attr-defined]
    assert sel.matchers[1].matches("pro\nd")  # type: ignore[attr-defined]
    assert parse('x{a=~"(?i)FOO"}').matchers[1].matches("foo")  # type: ignore[attr-defined]
