from __future__ import annotations

import json

from tidewell.tool.verify.report import CheckResult, Status, exit_code, render_json, render_table

RESULTS = [
    CheckResult("produce", "distributor-0", Status.PASS, "10 records acknowledged"),
    CheckResult("consume", "partition 0 zone-a ingester-zone-a-0", Status.WARN, "catching up"),
    CheckResult("blocks", "tenant t", Status.FAIL, "stopped shipping"),
]


def test_table_aligns_columns_and_counts() -> None:
    lines = render_table(RESULTS).splitlines()
    assert lines[0].split() == ["CHECK", "SUBJECT", "STATUS", "REASON"]
    status_col = lines[0].index("STATUS")
    assert [line[status_col:status_col + 4] for line in lines[1:4]] == ["PASS", "WARN", "FAIL"]
    assert lines[-1] == "1 PASS, 1 WARN, 1 FAIL"


def test_json_for_scripts() -> None:
    doc = json.loads(render_json(RESULTS))
    assert doc["summary"] == {"PASS": 1, "WARN": 1, "FAIL": 1}
    assert doc["results"][2] == {"check": "blocks", "subject": "tenant t", "status": "FAIL",
                                 "reason": "stopped shipping"}


def test_exit_code_fails_only_on_fail() -> None:
    assert exit_code(RESULTS) == 1
    assert exit_code(RESULTS[:2]) == 0
