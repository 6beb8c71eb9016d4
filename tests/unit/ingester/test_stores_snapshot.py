"""Exemplars and metadata survive an ingester restart through its snapshot."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tidewell.ingester import StaticLimits
from tidewell.ingester.exemplars import ExemplarStore
from tidewell.ingester.meta_pb import encode_stores, restore_stores
from tidewell.ingester.metadata import MetadataStore
from tidewell.model import Exemplar, Labels, Matcher, MatchType, MetricMetadata, MetricType

from .conftest import new_ingester, new_log, record

A = Labels.from_dict({"__name__": "req_total", "job": "a"})
B = Labels.from_dict({"__name__": "req_total", "job": "ünïcode ✓"})
ALL = [[Matcher(MatchType.REGEX, "job", ".+")]]
P = 3


def ex(tid: str, ts: int, value: float = 1.0) -> Exemplar:
    return Exemplar(Labels.from_dict({"trace_id": tid}), value, ts)


def test_round_trip_keeps_values_bits_labels_and_arrival_order() -> None:
    src_ex, src_md = ExemplarStore("t", lambda: 3), MetadataStore("t")
    src_ex.add(A, [ex("1", 10), ex("2", 20, math.nan)])
    src_ex.add(B, [ex("é", 15, -math.inf)])
    src_md.add([MetricMetadata("req_total", MetricType.COUNTER, "Requests ✓.", "")])
    dst_ex, dst_md = ExemplarStore("t", lambda: 3), MetadataStore("t")
    restore_stores(encode_stores(src_ex, src_md), dst_ex, dst_md)
    assert dst_ex.arrivals()[0] == src_ex.arrivals()[0]
    got = dst_ex.select(0, 100, ALL)
    assert got[1] == (B, [ex("é", 15, -math.inf)])
    assert math.isnan(got[0][1][1].value)
    assert dst_md.query() == src_md.query()
    # Arrival order survives: the next exemplar evicts A@10, the oldest arrival.
    dst_ex.add(B, [ex("4", 30)])
    assert [e.timestamp for _, exs in dst_ex.select(0, 100, ALL) for e in exs] == [20, 15, 30]


@pytest.mark.anyio
@pytest.mark.timeout(30)
async def test_ingester_restart_restores_exemplars_and_metadata(tmp_path: Path) -> None:
    log = new_log(str(tmp_path / "log"))
    await log.produce([record(P, "t1", [(A, 1000, 1.0)]), record(P, "t2", [(A, 1000, 1.0)])])
    limits = StaticLimits(max_exemplars=100)
    ing = new_ingester(log, str(tmp_path / "ing"), limits=limits)
    await ing.start()
    t1, t2 = ing.tenant_tsdb("t1"), ing.tenant_tsdb("t2")
    assert t1 is not None and t2 is not None
    t1.exemplars.add(A, [ex("a", 1000, 1.0), ex("b", 2000, 2.0)])
    t1.metadata.add([MetricMetadata("req_total", MetricType.COUNTER, "Requests.", "")])
    t2.exemplars.add(A, [ex("other", 1000)])
    before = ing.tenants.exemplars("t1", 0, 10_000, ALL)
    await ing.stop()

    ing = new_ingester(log, str(tmp_path / "ing"), limits=limits)
    await ing.start()
    try:
        assert ing.tenants.exemplars("t1", 0, 10_000, ALL) == before
        assert ing.tenants.metadata("t1") == [
            MetricMetadata("req_total", MetricType.COUNTER, "Requests.", "")]
        assert [e.labels.get("trace_id") for _, exs in
                ing.tenants.exemplars("t2", 0, 10_000, ALL) for e in exs] == ["other"]
        assert ing.tenants.metadata("t2") == []
    finally:
        await ing.stop()
        await log.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
