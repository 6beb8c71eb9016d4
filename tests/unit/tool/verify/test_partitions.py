from __future__ import annotations

from tidewell.ring.instance_ring import InstanceDesc
from tidewell.tool.verify.partitions import OffsetLook, judge_owner, zone_of
from tidewell.tool.verify.report import Status


def judge(first: OffsetLook, second: OffsetLook, health: list[str] | None = None,
          max_lag: int = 1000):
    return judge_owner("partition 0 zone-a ingester-zone-a-0", "g", first, second, 5,
                       health or [], max_lag)


def test_keeping_up_passes() -> None:
    r = judge(OffsetLook(90, 100), OffsetLook(100, 104))
    assert r.status is Status.PASS
    assert r.reason == "committed 100, end 104, lag 4 records (group 'g')"


def test_committed_offset_not_moving_while_records_wait_fails() -> None:
    r = judge(OffsetLook(90, 100), OffsetLook(90, 130), ["/ready at h:1 unreachable"])
    assert r.status is Status.FAIL
    assert "not consuming: committed offset 90 unchanged for 5s while 10 older records" \
        in r.reason
    assert "lag 40 records" in r.reason and "unreachable" in r.reason


def test_idle_partition_with_nothing_new_passes() -> None:
    # No new records: an unchanged offset is not a stall.
    assert judge(OffsetLook(100, 100), OffsetLook(100, 100)).status is Status.PASS


def test_record_produced_during_the_window_is_not_a_stall() -> None:
    assert judge(OffsetLook(100, 100), OffsetLook(100, 101)).status is Status.PASS


def test_catching_up_warns() -> None:
    r = judge(OffsetLook(10, 500), OffsetLook(200, 520))
    assert r.status is Status.WARN and "catching up: committed advanced by 190" in r.reason


def test_lag_above_the_limit() -> None:
    moving = judge(OffsetLook(0, 5000), OffsetLook(3000, 6000), max_lag=1000)
    assert moving.status is Status.WARN and moving.reason.startswith("lag above 1000")
    # Thousands of records arrived during the window and nothing was committed.
    still = judge(OffsetLook(3000, 3000), OffsetLook(3000, 6000), max_lag=1000)
    assert still.status is Status.FAIL


def test_no_committed_offset() -> None:
    empty = judge(OffsetLook(None, 0), OffsetLook(None, 0))
    assert empty.status is Status.WARN and "partition is empty" in empty.reason
    missing = judge(OffsetLook(None, 10), OffsetLook(None, 12))
    assert missing.status is Status.FAIL
    assert "no committed offset on the broker while the partition holds 12" in missing.reason


def test_unhealthy_but_consuming_warns() -> None:
    r = judge(OffsetLook(90, 100), OffsetLook(100, 100), ["ring heartbeat 90s old"])
    assert r.status is Status.WARN and r.reason.endswith("; ring heartbeat 90s old")


def test_zone_from_the_ring_or_the_name() -> None:
    ring = {"i-1": InstanceDesc("i-1", "h:1", zone="eu-west-1a")}
    assert zone_of("i-1", ring) == "eu-west-1a"
    assert zone_of("ingester-zone-b-7", ring) == "zone-b"
    assert zone_of("ingester-7", ring) == ""
