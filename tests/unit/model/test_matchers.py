"""Matchers follow Prometheus's regex semantics on RE2, in linear time."""

from __future__ import annotations

import time

import pytest

from tidewell.model import Labels, Matcher, MatchType
from tidewell.model.matchers import InvalidRegexError, compile_regex, matches_all


def rx(pattern: str) -> Matcher:
    return Matcher(MatchType.REGEX, "l", pattern)


@pytest.mark.parametrize(
    ("pattern", "value", "hit"),
    [
        ("foo", "foo", True),
        ("foo", "xfoo", False),  # anchored at the start
        ("foo", "foox", False),  # and at the end
        ("a|b", "ab", False),
        ("a|b", "b", True),
        ("a||b", "", True),  # an empty alternative matches the empty string
        ("a.b", "a\nb", True),  # "." matches a newline, as (?s:...) in Prometheus
        (".*", "any\nthing", True),
        (".*", "", True),
        (".+", "", False),
        (".+", "\n", True),
        ("a(?i)b", "aB", True),  # Go/RE2 inline flags anywhere
        ("a(?i)b", "AB", False),
        ("\\pL+", "héllo", True),
        ("[[:digit:]]+", "123", True),
        ("é|ü", "ü", True),
        ("a-b|c#d", "c#d", True),
    ],
)
def test_regex_semantics(pattern: str, value: str, hit: bool) -> None:
    assert rx(pattern).matches(value) is hit
    assert Matcher(MatchType.NOT_REGEX, "l", pattern).matches(value) is not hit
    assert (compile_regex(pattern).fullmatch(value) is not None) is hit


def test_absent_label_matches_as_empty_string() -> None:
    lb = Labels({"a": "1"}.items())
    assert matches_all([rx("|x"), Matcher.equal("a", "1")], lb)
    assert not matches_all([rx("x")], lb)


@pytest.mark.serial  # a wall-clock bound or a race: alone on its core
def test_backtracking_pattern_is_linear() -> None:
    m = rx("(x+x+)+y")
    t0 = time.monotonic()
    assert not m.matches("x" * 40)
    assert not m.matches("x" * 200_000)
    assert m.matches("x" * 40 + "y")
    assert time.monotonic() - t0 < 0.5


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [("(a)\\1", "invalid escape sequence"), ("(?=a)", "invalid perl operator"),
     ("a{1001}", "invalid repetition size"), ("a)|(b", "unexpected )"), ("(a", "missing )")],
)
def test_refused_patterns_raise_with_re2_reason(pattern: str, reason: str) -> None:
    with pytest.raises(InvalidRegexError, match=reason.replace(")", r"\)")):
        rx(pattern)
    assert issubclass(InvalidRegexError, ValueError)


FAST_SHAPES = [
    ".*", ".+", "", "a|b|c", "(a|bc)", "(?:a|bc|)", "api\\.example\\.com|db", ".*prod.*",
    ".*.*", "prod.*", ".*-prod", ".*a\\.b.*", ".*\\\\.*", "x\\_y", ".*\\.*", "a\\.*",
    "(a)|(b)", "(?i:a|b)", "(?i)ab", "a.b", "[|]", "\\d+", "a\\|b", "é|ü.*", ".*\n.*",
]
VALUES = ["", "a", "b", "bc", "c", "ab", "AB", "aB", "api.example.com", "apiXexample.com", "db",
          "my-prod-1", "prod", "production", "x-prod", "a.b", "axb", "\\", "x_y", "a...", "a.",
          ".", "..", "|", "12", "é", "üx", "a\nb", "\n", "|b", "a|b"]


@pytest.mark.parametrize("pattern", FAST_SHAPES)
def test_fast_paths_agree_with_re2(pattern: str) -> None:
    rx = compile_regex(pattern)
    m = Matcher(MatchType.REGEX, "l", pattern)
    for v in VALUES:
        assert m.matches(v) is (rx.fullmatch(v) is not None), (pattern, v)
