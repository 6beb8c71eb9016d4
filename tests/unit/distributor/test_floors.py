"""Combining ingesters' appendable floors into the distributor's per-partition floors."""

from __future__ import annotations

from tidewell.distributor.floors import partition_floors


def test_a_partition_takes_the_lowest_floor_of_its_zone_replicas() -> None:
    owners = {0: ["ingester-zone-a-0", "ingester-zone-b-0"], 1: ["ingester-zone-a-1"]}
    answers = {
        "ingester-zone-a-0": {"t1": 5_000, "t2": 9_000},
        "ingester-zone-b-0": {"t1": 3_000, "t2": 9_500},
        "ingester-zone-a-1": {"t1": 7_000},
    }
    assert partition_floors(owners, answers) == {
        "t1": {0: 3_000, 1: 7_000},
        "t2": {0: 9_000},
    }


def test_no_floor_where_an_owner_never_answered_or_has_no_head() -> None:
    owners = {0: ["a-0", "b-0"], 1: ["a-1", "b-1"], 2: []}
    answers = {
        "a-0": {"t1": 5_000},  # b-0 never answered: partition 0 refuses nothing
        "a-1": {"t1": 5_000, "t2": 1_000},
        "b-1": {"t2": 2_000},  # b-1 has no head for t1 yet: it takes anything
    }
    assert partition_floors(owners, answers) == {"t2": {1: 1_000}}
