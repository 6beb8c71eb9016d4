"""Name schemes and Prometheus 3's printing of names, label sets and matchers."""

from __future__ import annotations

import pytest

from tidewell.model import (
    Labels,
    Matcher,
    MatchType,
    go_quote,
    is_legacy_label_name,
    is_legacy_metric_name,
    is_utf8_name,
    label_name_str,
    pairs_string,
    unescape_name,
)


@pytest.mark.parametrize(("name", "label", "metric", "utf8"), [
    ("job", True, True, True),
    ("_0", True, True, True),
    ("a:b", False, True, True),
    (":a", False, True, True),
    ("0a", False, False, True),
    ("a.b", False, False, True),
    ("ünit", False, False, True),
    ("a b", False, False, True),
    ("", False, False, False),
    ("\udcff", False, False, False),  # an invalid byte kept by surrogateescape
])
def test_schemes(name: str, label: bool, metric: bool, utf8: bool) -> None:
    assert is_legacy_label_name(name) is label
    assert is_legacy_metric_name(name) is metric
    assert is_utf8_name(name) is utf8


@pytest.mark.parametrize(("s", "quoted"), [
    ("plain", '"plain"'),
    ('a"b\\c', '"a\\"b\\\\c"'),
    ("tab\tnl\ncr\r", '"tab\\tnl\\ncr\\r"'),
    ("\x00\x7f", '"\\x00\\x7f"'),
    ("ü€😀", '"ü€😀"'),
    ("\u00a0\u200b", '"\\u00a0\\u200b"'),
    ("\U000e0001", '"\\U000e0001"'),
    ("a\udcffb", '"a\\xffb"'),
])
def test_go_quote_matches_strconv_quote(s: str, quoted: str) -> None:
    assert go_quote(s) == quoted


def test_label_set_printing() -> None:
    lb = Labels.from_dict({"__name__": "http.server.duration", "le": "0.1", "a.b": "x"})
    assert str(lb) == '{"http.server.duration", "a.b"="x", le="0.1"}'
    assert lb.prom_string() == '{__name__="http.server.duration", "a.b"="x", le="0.1"}'
    assert str(Labels.from_dict({"__name__": "a:b"})) == "a:b"
    assert str(Labels.from_dict({"__name__": "up", "c:d": "1"})) == 'up{"c:d"="1"}'
    assert str(Labels.from_dict({"job": 'x"y'})) == '{job="x\\"y"}'
    assert pairs_string([("b", "1"), ("", "2")]) == '{b="1", ""="2"}'
    assert label_name_str("a-b") == '"a-b"' and label_name_str("a_b") == "a_b"


@pytest.mark.parametrize(("m", "printed"), [
    (Matcher(MatchType.EQUAL, "job", "a"), 'job="a"'),
    (Matcher(MatchType.NOT_EQUAL, "a.b", "c"), '"a.b"!="c"'),
    (Matcher(MatchType.REGEX, "a:b", "x|y"), '"a:b"=~"x|y"'),
    (Matcher(MatchType.NOT_REGEX, "", "\n"), '""!~"\\n"'),
    (Matcher(MatchType.EQUAL, "_0", "1"), '_0="1"'),
])
def test_matcher_printing(m: Matcher, printed: str) -> None:
    assert str(m) == printed


@pytest.mark.parametrize(("escaped", "name"), [
    ("U__a_2e_b", "a.b"),
    ("U__my__name", "my_name"),
    ("U__a__b_2e_c", "a_b.c"),  # "_b_" is not a code: "__" comes first
    ("U___1f600_", "😀"),
    ("U__", ""),
    ("plain_name", "plain_name"),
    ("U__bad_zz_", "U__bad_zz_"),  # not hex: unchanged
    ("U__open_2e", "U__open_2e"),  # unterminated: unchanged
    ("U__x_d800_", "U__x_d800_"),  # a surrogate is no rune
    ("U__x_1234567_", "U__x_1234567_"),  # more than 6 digits
])
def test_unescape_name(escaped: str, name: str) -> None:
    assert unescape_name(escaped) == name
