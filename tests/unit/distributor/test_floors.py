"""Combining ingesters' appendable floors into the distributor's per-partition floors;
how often they are polled."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import REGISTRY

from tidewell.config import load
from tidewell.distributor.floors import RemoteAppendableFloors, partition_floors
from tidewell.ring import PartitionRing, PartitionRingDesc
from tidewell.ring.instance_ring import InstanceRing, InstanceRingDesc
from tidewell.util.config_tree import ConfigError

pytestmark = pytest.mark.serial  # refresh rounds are counted within a time bound: alone on its core


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


def refreshes() -> float:
    return REGISTRY.get_sample_value("tidewell_distributor_appendable_floors_refreshes_total") or 0


def test_poll_interval_flag_sets_how_often_the_poller_asks() -> None:
    assert load([]).config.distributor.appendable_floors_poll_interval == 5.0
    cfg = load(["-distributor.appendable-floors-poll-interval=50ms"]).config.distributor
    assert cfg.appendable_floors_poll_interval == 0.05
    with pytest.raises(ConfigError, match="appendable-floors-poll-interval: must be > 0"):
        load(["-distributor.appendable-floors-poll-interval=0s"])

    async def rounds() -> float:
        # Real (empty) rings: every round asks nobody and counts one refresh.
        ring = PartitionRing(PartitionRingDesc())
        floors = RemoteAppendableFloors(ring, InstanceRing(InstanceRingDesc()),
                                        interval_s=cfg.appendable_floors_poll_interval)
        before = refreshes()
        await floors.start()  # one round at once, then one every 50 ms
        try:
            deadline = time.monotonic() + 3.0  # the 5 s default would do one round only
            while refreshes() < before + 4 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            return refreshes() - before
        finally:
            await floors.stop()

    assert asyncio.run(rounds()) >= 4
