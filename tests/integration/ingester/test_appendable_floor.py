"""One process: the distributor refuses with 400 what the ingester's head would drop.

A real distributor, embedded log and ingester. Once the tenant's head holds
recent data, a series whose samples are all older than the head's appendable
window is refused before the ack (400, ``sample-timestamp-too-old``); a series
straddling the window goes through and the ingester keeps its old sample too
(late, stored out of order, counted). A tenant without a head yet takes old
samples (backfill).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from tests.unit.distributor.helpers import make_ring, now_ms
from tidewell.distributor import Distributor, DistributorConfig, Limits, Overrides
from tidewell.distributor.errors import PartialValidationError
from tidewell.ingest.embedded.log import EmbeddedLog
from tidewell.model import Labels
from tidewell.protocol import encode_write_request

from .conftest import make_batch, new_ingester

pytestmark = [pytest.mark.timeout(60), pytest.mark.anyio]

HOUR = 3_600_000


def body(samples: list[tuple[str, int]]) -> bytes:
    return encode_write_request(make_batch(
        [(Labels.from_dict({"__name__": name}), t, 1.0) for name, t in samples]))


def discarded(user: str, reason: str) -> float:
    return REGISTRY.get_sample_value(
        "cortex_discarded_samples_total", {"user": user, "reason": reason}) or 0.0


def late(user: str) -> float:
    return REGISTRY.get_sample_value(
        "tidewell_ingester_late_samples_appended_total", {"user": user}) or 0.0


async def test_distributor_refuses_what_the_head_would_drop(tmp_path: Path) -> None:
    log = EmbeddedLog(str(tmp_path / "log"), 1, group_commit_window=0.0)
    dist = Distributor(DistributorConfig(), Overrides(Limits()), make_ring(1), log)
    ing = new_ingester(log, str(tmp_path / "ing"), "ingester-zone-a-0", max_lag=0)
    dist.appendable_floors = ing.appendable_floors
    await ing.start()
    try:
        now = now_ms()
        old = now - 2 * HOUR  # the 2h block range's window reaches back 1h
        # No head yet for t2: old samples are a backfill the head takes.
        await dist.push("t2", body([("backfill", old)]))
        await dist.push("t1", body([("recent", now)]))
        await ing.wait_strong(10)
        assert ing.appendable_floors("t1") == {0: now - HOUR}
        refused = discarded("t1", "sample-timestamp-too-old")
        late_before = late("t1")
        with pytest.raises(PartialValidationError) as err:
            await dist.push("t1", body([("all_old", old), ("all_old", old + 1),
                                        ("straddling", old), ("straddling", now)]))
        assert err.value.status == 400
        assert "sample-timestamp-too-old" in err.value.message and "all_old" in err.value.message
        assert "straddling" not in err.value.message
        # The distributor counted the refused samples; the ingester dropped nothing.
        await ing.wait_strong(10)
        assert discarded("t1", "sample-timestamp-too-old") == refused + 2
        assert late("t1") == late_before + 1
        got = {str(s.labels): s.timestamps.tolist()
               for s in ing.querier("t1", 0, 10**15).select([])}
        assert got == {"recent": [now], "straddling": [old, now]}
        got2 = {str(s.labels): s.timestamps.tolist()
                for s in ing.querier("t2", 0, 10**15).select([])}
        assert got2 == {"backfill": [old]}
    finally:
        await ing.stop()
        await log.close()
