"""Rule files and groups: parsed, validated with line numbers, written back."""

from __future__ import annotations

import pytest

from tidewell.ruler.rulefmt import (
    RuleFormatError,
    format_duration,
    parse_duration,
    parse_group,
    parse_groups,
)

GOOD = """
groups:
  - name: example
    interval: 30s
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels:
          team: a
      - alert: InstanceDown
        expr: up == 0
        for: 5m
        keep_firing_for: 1m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} down ({{ $value }})"
"""


def errors_of(text: str, **kw: str) -> list[str]:
    with pytest.raises(RuleFormatError) as exc:
        parse_groups(text, **kw)
    return exc.value.errors


def test_valid_file_parses_and_round_trips() -> None:
    [g] = parse_groups(GOOD)
    assert g.name == "example" and g.interval == 30
    rec, alert = g.rules
    assert (rec.record, rec.expr, rec.labels) == ("job:up:sum", "sum by (job) (up)", {"team": "a"})
    assert (alert.alert, alert.for_, alert.keep_firing_for) == ("InstanceDown", 300, 60)
    again = parse_group(g.to_yaml())
    assert again == g


def test_unknown_field_names_its_line_and_type() -> None:
    text = ("groups:\n  - name: g\n    rules:\n      - record: a\n        expr: up\n"
            "        bogus: 1\n")
    [err] = errors_of(text)
    assert "line 6: field bogus not found in type rulefmt.Rule" in err


def test_bad_promql_names_line_column_group_and_rule() -> None:
    text = "groups:\n  - name: g\n    rules:\n      - record: a\n        expr: sum(rate(x[5m])\n"
    [err] = errors_of(text)
    assert err.startswith('5:15: group "g", rule 1, "a": could not parse expression: 1:16:')


def test_recording_rule_problems_are_each_reported() -> None:
    text = ("groups:\n  - name: g\n    rules:\n      - record: 'bad name'\n        expr: up\n"
            "        for: 1m\n        annotations: {a: b}\n")
    errs = errors_of(text)
    assert any("invalid field 'for' in recording rule" in e for e in errs)
    assert any("invalid field 'annotations' in recording rule" in e for e in errs)
    assert any("invalid recording rule name: bad name" in e for e in errs)
    assert all(e.startswith("4:17:") for e in errs)


def test_missing_expr_and_name_and_duplicate_group() -> None:
    text = ("groups:\n  - name: g\n    rules:\n      - labels: {a: b}\n"
            "  - name: g\n    rules: []\n  - rules: []\n")
    errs = errors_of(text)
    assert any("one of 'record' or 'alert' must be set" in e for e in errs)
    assert any("field 'expr' must be set in rule" in e for e in errs)
    assert any('5:5: groupname: "g" is repeated in the same file' in e for e in errs)
    assert any(e == "7:5: Groupname must not be empty" for e in errs)


def test_malformed_yaml_and_bad_duration() -> None:
    [err] = errors_of("groups:\n  - name: g\n    rules: [\n")
    assert err.startswith("yaml: line")
    [err] = errors_of("groups:\n  - name: g\n    interval: 5x\n    rules: []\n")
    assert 'line 3: not a valid duration string: "5x"' in err


def test_bad_template_in_alert_is_refused() -> None:
    text = ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n"
            "        annotations:\n          s: '{{ $labels.x '\n")
    [err] = errors_of(text)
    assert 'annotation "s": template:' in err and "unclosed action" in err


def test_utf8_scheme_accepts_dotted_names_legacy_refuses() -> None:
    text = "groups:\n  - name: g\n    rules:\n      - record: a.b\n        expr: up\n"
    assert parse_groups(text, scheme="utf8")[0].rules[0].record == "a.b"
    assert any("invalid recording rule name: a.b" in e for e in errors_of(text))


@pytest.mark.parametrize(("text", "seconds"), [("0", 0), ("1h30m", 5400), ("90s", 90),
                                               ("1w", 604800), ("500ms", 0.5)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_duration_format_as_prometheus() -> None:
    assert [format_duration(s) for s in (0, 90, 5400, 86400 * 7, 0.5)] == [
        "0s", "1m30s", "1h30m", "1w", "500ms"]
