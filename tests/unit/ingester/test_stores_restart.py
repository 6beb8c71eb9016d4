"""The exemplar ring survives a snapshot restart in arrival order: after the restart the
next exemplar evicts the same one it would have evicted before."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tidewell.ingest.log import ProduceRequest
from tidewell.ingester import StaticLimits
from tidewell.model import Exemplar, Labels, Matcher, MatchType, SampleBatch
from tidewell.protocol.rw1 import encode_write_request

from .conftest import new_ingester, new_log

pytestmark = [pytest.mark.timeout(60), pytest.mark.anyio]

A = Labels.from_dict({"__name__": "req_total", "job": "a"})
B = Labels.from_dict({"__name__": "req_total", "job": "b"})
ALL = [[Matcher(MatchType.EQUAL, "__name__", "req_total")]]
P = 3


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _record(samples: list[tuple[Labels, int]], exemplars: list[tuple[Labels, str, int]]
            ) -> ProduceRequest:
    """One sample per ``samples`` entry and the exemplars on those series, in this order."""
    labels = list(dict.fromkeys(ls for ls, _ in samples))
    batch = SampleBatch(
        labels,
        np.array([labels.index(ls) for ls, _ in samples], dtype=np.int32),
        np.array([t for _, t in samples], dtype=np.int64),
        np.ones(len(samples)),
        exemplars=[(labels.index(ls), Exemplar(Labels.from_dict({"trace_id": tid}), 1.0, t))
                   for ls, tid, t in exemplars])
    return ProduceRequest(P, b"t1", encode_write_request(batch), 1)


def traces(ing) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    return {ls.get("job"): [e.labels.get("trace_id") for e in exs]
            for ls, exs in ing.tenants.exemplars("t1", 0, 10**12, ALL)}


async def test_eviction_order_is_the_same_after_a_snapshot_restart(tmp_path: Path) -> None:
    log = new_log(str(tmp_path / "log"))
    # Arrivals: B@1, A@2, B@3 (three records, so three separate arrivals).
    await log.produce([_record([(B, 1)], [(B, "b1", 1)])])
    await log.produce([_record([(A, 2)], [(A, "a2", 2)])])
    await log.produce([_record([(B, 3)], [(B, "b3", 3)])])
    limits = StaticLimits(max_exemplars=3)
    ing = new_ingester(log, str(tmp_path / "ing"), limits=limits)
    await ing.start()
    assert traces(ing) == {"a": ["a2"], "b": ["b1", "b3"]}
    await ing.stop()  # snapshot: the stores go to the WAL's state entry

    await log.produce([_record([(A, 4)], [(A, "a4", 4)])])
    ing = new_ingester(log, str(tmp_path / "ing"), limits=limits)
    await ing.start()
    try:
        # The oldest arrival was B@1 (not A@2, which sorts first by labels).
        assert traces(ing) == {"a": ["a2", "a4"], "b": ["b3"]}
    finally:
        await ing.stop()
        await log.close()
