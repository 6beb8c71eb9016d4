from __future__ import annotations

import asyncio

from tidewell.tool.verify.distributors import ENQUEUED, FAILED, check_distributors, judge
from tidewell.tool.verify.report import Status
from tidewell.tool.verify.scrape import MetricSnapshot


def snap(enqueued: float, **failed: float) -> MetricSnapshot:
    out: MetricSnapshot = {ENQUEUED: {(): enqueued}}
    if failed:
        out[FAILED] = {(("reason", r.replace("_", "-")),): n for r, n in failed.items()}
    return out


def test_acknowledged_records_pass() -> None:
    r = judge("d0", snap(100), snap(160), 15)
    assert r.status is Status.PASS
    assert r.reason == "60 records produced and acknowledged in the last 15s, none failed"


def test_idle_distributor_warns() -> None:
    r = judge("d0", snap(100), snap(100), 15)
    assert r.status is Status.WARN and "no records produced" in r.reason


def test_nothing_acknowledged_fails_with_the_reasons() -> None:
    r = judge("d0", snap(100, timeout=3), snap(130, timeout=23, record_too_large=10), 15)
    assert r.status is Status.FAIL
    assert "30 records produced" in r.reason and "none acknowledged" in r.reason
    assert "record-too-large: 10" in r.reason and "timeout: 20" in r.reason


def test_some_failures_warn() -> None:
    r = judge("d0", snap(100), snap(130, buffer_full=5), 15)
    assert r.status is Status.WARN and r.reason.startswith("25 records acknowledged")


def test_a_process_without_writer_metrics_fails() -> None:
    r = judge("x", {}, {"up": {(): 1.0}}, 15)
    assert r.status is Status.FAIL and "is this a distributor" in r.reason


def test_no_distributor_known_fails() -> None:
    (r,) = asyncio.run(check_distributors({}, 0.1))
    assert r.status is Status.FAIL and "--distributor" in r.reason
