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


@pytest.mark.parametrize(("query", "printed"), [
    # Prometheus 3's printer_test cases for quoted names.
    ('{"a.b"="c"}', '{"a.b"="c"}'),
    ('{"0"="1"}', '{"0"="1"}'),
    ('{"_0"="1"}', '{_0="1"}'),
    ('{""="0"}', '{""="0"}'),
    ('{``="0"}', '{""="0"}'),
    ('{__name__="",a="x"}', '{__name__="",a="x"}'),
    ('sum by("foo.bar") (task:errors:rate10s{job="s"})',
     'sum by ("foo.bar") (task:errors:rate10s{job="s"})'),
    ('sum without("foo.bar") (task:errors:rate10s{job="s"})',
     'sum without ("foo.bar") (task:errors:rate10s{job="s"})'),
    # A quoted metric name is a __name__ matcher; names are quoted unless legacy-valid.
    ('{"http.server.duration", "le"="0.1"}', '{__name__="http.server.duration",le="0.1"}'),
    ('{"my.metric"}', '{__name__="my.metric"}'),
    ('a:b{"c:d"="1"}', 'a:b{"c:d"="1"}'),
    ('foo{b="2", a="1"}', 'foo{a="1",b="2"}'),
    ('x + on("a.b") group_left("c d") y', 'x + on ("a.b") group_left ("c d") y'),
    ('label_replace(x, "a.b", "$1", "c.d", "(.*)")',
     'label_replace(x, "a.b", "$1", "c.d", "(.*)")'),
    ('{"ünit"="\\t"}', '{"ünit"="\\t"}'),
])
def test_utf8_names_print_as_prometheus_3(query: str, printed: str) -> None:
    assert str(parse(query)) == printed
    assert str(parse(printed)) == printed


def test_quoted_metric_name_is_a_name_matcher() -> None:
    vs = parse('{"http.server.duration", "le"="0.1"}')
    assert isinstance(vs, ast.VectorSelector)
    assert [(m.name, m.type.value, m.value) for m in vs.matchers] == [
        ("__name__", "=", "http.server.duration"), ("le", "=", "0.1")]
    agg = parse('sum by ("a.b", c) (x)')
    assert isinstance(agg, ast.AggregateExpr) and agg.grouping == ["a.b", "c"]
    b = parse('x / on ("a.b") group_right ("c.d") y')
    assert isinstance(b, ast.BinaryExpr) and b.matching is not None
    assert (b.matching.labels, b.matching.include) == (["a.b"], ["c.d"])


@pytest.mark.parametrize(("query", "message"), [
    ('foo{"bar"}', '1:1: parse error: metric name must not be set twice: "foo" or "bar"'),
    ('foo{__name__="bar"}', 'metric name must not be set twice: "foo" or "bar"'),
    ('sum by ("") (x)', '1:9: parse error: invalid label name for grouping: ""'),
    ('x + on ("\\xff") y', 'invalid label name for grouping: "\\xff"'),
])
def test_utf8_name_errors(query: str, message: str) -> None:
    with pytest.raises(ParseError) as exc:
        parse(query)
    assert message in str(exc.value)


@pytest.mark.parametrize(("query", "message"), [
    # Expected texts from Prometheus 3's promql/parser/parse_test.go.
    ('foo{"a"=}', 'unexpected "}" in label matching, expected string'),
    ("foo{a}", 'unexpected "}" in label matching, expected label matching operator'),
    ('foo{__name__="bar" lol}',
     'unexpected identifier "lol" in label matching, expected "," or "}"'),
    ('{"http.requests"=, x="y"}', 'unexpected "," in label matching, expected string'),
    ("sum by (a, ==) (x)", "unexpected <op:==> in grouping opts, expected label"),
    ("sum by test (x)", 'unexpected identifier "test" in grouping opts, expected "("'),
    ("sum(x) by (a) by (b)", "unexpected <by>"),
    ("a + * b", "unexpected <op:*>"),
    ('rate(x) "averyverylongstring"', 'unexpected string "\\"averyvery"...'),
    ("{", "1:2: parse error: unexpected end of input inside braces"),
    ("some{", "unexpected end of input inside braces"),
    ('some_metric{a:b="b"}', "1:14: parse error: unexpected character inside braces: ':'"),
    ('foo{a*"b"}', "unexpected character inside braces: '*'"),
    ('foo{a>="b"}', "unexpected character inside braces: '>'"),
    ("foo{1}", "unexpected character inside braces: '1'"),
    ("foo{gibberish}", 'unexpected "}" in label matching, expected label matching operator'),
    ("some_metric{a=b}", 'unexpected identifier "b" in label matching, expected string'),
])
def test_unexpected_token_names_match_prometheus(query: str, message: str) -> None:
    with pytest.raises(ParseError) as exc:
        parse(query)
    assert message in str(exc.value)


def test_keywords_are_label_names_inside_braces() -> None:
    vs = parse('foo{by="x", inf="y", offset="z"}')
    assert isinstance(vs, ast.VectorSelector)
    assert [m.name for m in vs.matchers] == ["__name__", "by", "inf", "offset"]
