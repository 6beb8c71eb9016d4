from __future__ import annotations

from tidewell.tool.verify.report import Status
from tidewell.tool.verify.topic import judge_topic


def test_enough_partitions_pass() -> None:
    r = judge_topic("ingest", 1000, [0, 1, 2], {"zone-a": 3, "zone-b": 3})
    assert r.status is Status.PASS
    assert r.reason == "1000 partitions, 3 ACTIVE, at most 3 ingesters per zone"


def test_missing_topic_fails() -> None:
    r = judge_topic("ingest", None, [0], {"zone-a": 1})
    assert r.status is Status.FAIL and "does not exist" in r.reason


def test_active_partition_outside_the_topic_fails() -> None:
    r = judge_topic("ingest", 2, [0, 1, 2], {"zone-a": 3})
    assert r.status is Status.FAIL and "ACTIVE partition(s) 2 are not in the topic" in r.reason


def test_fewer_partitions_than_ingesters_per_zone_fails() -> None:
    r = judge_topic("ingest", 2, [0, 1], {"zone-a": 3, "zone-b": 2})
    assert r.status is Status.FAIL and "2 partitions for 3 ingesters per zone" in r.reason
