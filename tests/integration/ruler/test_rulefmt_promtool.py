"""We accept and refuse the rule files the real ``promtool check rules`` does.

Debian's promtool 2.42 (legacy name validation, as our default for rules) checks
each file; our parser must give the same verdict, and where promtool names a
``line:column`` we name the same one (where it has no node and prints ``0:0``, we
point at the rule instead). Files using template features outside our
documented subset (``range``, ``query`` …) are not compared: we refuse them on
purpose, and ``tests/unit/ruler/test_template.py`` shows that.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tidewell.ruler.rulefmt import RuleFormatError, parse_groups

R = "groups:\n  - name: g\n    rules:\n"

CASES = {
    "good": R + "      - record: job:up:sum\n        expr: sum by (job) (up)\n"
                "      - alert: Down\n        expr: up == 0\n        for: 5m\n"
                "        keep_firing_for: 1m\n        labels: {severity: page}\n"
                "        annotations:\n"
                "          summary: '{{ $labels.instance }} {{ humanize $value }}'\n",
    "empty_file": "",
    "no_rules": "groups:\n  - name: g\n    rules: []\n",
    "numeric_expr": R + "      - record: one\n        expr: 1\n",
    "interval": "groups:\n  - name: g\n    interval: 1m30s\n    rules: []\n",
    "unknown_rule_field": R + "      - record: a\n        expr: up\n        bogus: 1\n",
    "unknown_group_field": "groups:\n  - name: g\n    colour: red\n    rules: []\n",
    "bad_promql": R + "      - record: a\n        expr: sum(rate(x[5m])\n",
    "bad_promql_type": R + "      - record: a\n        expr: rate(x)\n",
    "record_with_for": R + "      - record: a\n        expr: up\n        for: 1m\n",
    "missing_expr": R + "      - record: a\n",
    "missing_name": R + "      - expr: up\n",
    "both_names": R + "      - record: a\n        alert: b\n        expr: up\n",
    "duplicate_group": "groups:\n  - name: g\n    rules: []\n  - name: g\n    rules: []\n",
    "bad_duration": "groups:\n  - name: g\n    interval: 5x\n    rules: []\n",
    "bad_label_name": R + "      - record: a\n        expr: up\n        labels: {1abc: x}\n",
    "bad_annotation_name": R + "      - alert: a\n        expr: up\n        annotations: {1x: y}\n",
    "bad_record_name": R + "      - record: 'a b'\n        expr: up\n",
    "braces_in_record": R + "      - record: 'a{b=\"c\"}'\n        expr: up\n",
    "malformed_yaml": "groups:\n  - name: g\n    rules: [\n",
    "bad_template": R + "      - alert: a\n        expr: up\n        annotations:\n"
                        "          s: '{{ $labels.x '\n",
    "unknown_function": R + "      - alert: a\n        expr: up\n        labels:\n"
                            "          s: '{{ nosuch 1 }}'\n",
}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        raise AssertionError("promtool is missing: scripts/setup.sh installs Debian's "
                             "prometheus package")
    return path


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_verdict_as_promtool(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.yml"
    path.write_text(CASES[name])
    proc = subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True,
                          text=True, timeout=30)
    theirs = proc.returncode == 0
    try:
        parse_groups(CASES[name], scheme="legacy")
        ours, errors = True, []
    except RuleFormatError as exc:
        ours, errors = False, exc.errors
    assert ours == theirs, f"promtool: {proc.stdout}{proc.stderr}\nours: {errors}"
    if not ours:
        positions = set(re.findall(r"\.yml: (\d+:\d+): ", proc.stdout + proc.stderr))
        for pos in positions - {"0:0"}:  # no node: promtool says 0:0, we point at the rule
            assert any(e.startswith(pos) for e in errors), (pos, errors, proc.stdout)
