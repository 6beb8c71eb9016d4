"""Records that reach the ingester below its head's appendable floor are kept, not dropped.

The client had its 2xx once the log took the record, so a sample older than the
head takes in order (a distributor in another process with a stale floor, the old
samples of a series straddling the floor, a Mimir distributor writing to the same
topic) is stored out of order whatever ``-ingester.out-of-order-time-window`` says.
The race is made deterministic by producing the record straight into the log with
the writer's API after a cut moved the head's floor. Before, every sample below
was counted in ``cortex_discarded_samples_total`` and lost.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from tidewell.ingest.log import ProduceRequest
from tidewell.ingester import Ingester
from tidewell.ingester.head_cutting import OUT_OF_ORDER_HINT, local_blocks
from tidewell.model import Histogram, Labels
from tidewell.protocol.pb import prompb_pb2 as pb
from tidewell.protocol.prompb_model import histogram_to_pb

from ..tsdb.tsdb_helpers import run_promtool
from .conftest import new_ingester, new_log, record

pytestmark = [pytest.mark.timeout(120), pytest.mark.anyio]

P = 3
R = 10_000  # 10s blocks: the appendable window reaches back 5s from the head's newest
A = Labels.from_dict({"__name__": "a"})
HIST = Histogram(schema=0, zero_threshold=1e-128, zero_count=1, count=7, sum=9.5,
                 positive_spans=((0, 2), (2, 1)), positive_buckets=(1, 3, 1),
                 negative_spans=((1, 1),), negative_buckets=(1,), integer=True)


def late_record() -> ProduceRequest:
    """Samples far below the floor (ranges already cut), of a known series (``a``), new
    series (``c``, a float; ``h``, native histograms), and one (``d``) below the
    appendable window but in the range not cut yet."""
    wr = pb.WriteRequest()
    for name, floats in (("a", [(5_500, -1.0)]), ("c", [(12_345, 2.0)]),
                         ("d", [(51_000, 3.0)])):
        ts = wr.timeseries.add()
        ts.labels.add(name="__name__", value=name)
        for t, v in floats:
            ts.samples.add(timestamp=t, value=v)
    ts = wr.timeseries.add()
    ts.labels.add(name="__name__", value="h")
    for t in (25_000, 25_100):
        histogram_to_pb(HIST, t, ts.histograms.add())
    return ProduceRequest(P, b"t1", wr.SerializeToString(), 1)


def stored(ing: Ingester) -> dict[str, list[int]]:
    """Every series' timestamps (floats and histograms) as the ingester answers queries."""
    out = {}
    for s in ing.querier("t1", 0, 10**12).select([]):
        ts = s.timestamps.tolist()
        if s.histograms is not None:
            ts = sorted(ts + s.histograms.timestamps.tolist())
        out[s.labels.name] = ts
    return out


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def discarded() -> float:
    return sum(metric("cortex_discarded_samples_total", reason=r, user="t1")
               for r in ("sample-timestamp-too-old", "sample-too-old", "sample-out-of-order"))


def start(log, data: Path, snapshot: bool = False) -> Ingester:  # type: ignore[no-untyped-def]
    return new_ingester(log, str(data), f"ingester-zone-a-{P}", snapshot_on_shutdown=snapshot,
                        tsdb_settings={"block_ranges_period": R / 1000,
                                       "head_compaction_interval": 3600.0})


async def test_samples_below_the_floor_are_stored_cut_out_of_order_and_kept_once(
    tmp_path: Path,
) -> None:
    log = new_log(str(tmp_path / "log"))
    data = tmp_path / "ing"
    for t in range(0, 60_000, 1000):
        await log.produce([record(P, "t1", [(A, t, float(t))])])
    ing = start(log, data)
    await ing.start()
    assert await ing.compact() == 5  # [0,10s) .. [40s,50s): the floor is now 55s
    head = ing.tenant_tsdb("t1").head
    assert head.min_valid_time == 50_000
    assert ing.appendable_floors("t1") == {P: 54_000}
    late0, discarded0 = metric("tidewell_ingester_late_samples_appended_total", user="t1"), \
        discarded()

    (offset,) = await log.produce([late_record()])
    await ing.wait_for_offset(offset, 10)
    want = {"a": sorted([*range(0, 60_000, 1000), 5_500]), "c": [12_345], "d": [51_000],
            "h": [25_000, 25_100]}
    assert stored(ing) == want  # queryable from the head at once
    assert metric("tidewell_ingester_late_samples_appended_total", user="t1") == late0 + 5
    assert discarded() == discarded0
    total, _ = await ing.stored_samples("t1")
    # The same record again (a producer's retry): duplicates, not stored twice.
    dups0 = metric("tidewell_ingester_duplicate_samples_total", user="t1")
    (offset,) = await log.produce([late_record()])
    await ing.wait_for_offset(offset, 10)
    assert metric("tidewell_ingester_duplicate_samples_total", user="t1") == dups0 + 5
    assert await ing.stored_samples("t1") == (total, 5)
    assert discarded() == discarded0
    await ing.stop()

    # WAL replay (no snapshot) keeps them exactly once; so does a head snapshot.
    ing = start(log, data, snapshot=True)
    await ing.start()
    assert stored(ing) == want
    assert await ing.stored_samples("t1") == (total, 5)
    await ing.stop()
    assert any((data / "tsdb" / "snapshots").iterdir())
    ing = start(log, data)
    await ing.start()
    assert stored(ing) == want
    assert await ing.stored_samples("t1") == (total, 5)

    # The next cut puts those of cut ranges into out-of-order blocks, one per range;
    # "d" stays in the head for the range not cut yet.
    assert await ing.compact() == 3
    tdir = data / "tsdb" / "tenants" / "t1"
    metas = [json.loads((b / "meta.json").read_text()) for b in local_blocks(tdir)]
    ooo = sorted((m["minTime"], m["maxTime"]) for m in metas
                 if m["compaction"].get("hints") == [OUT_OF_ORDER_HINT])
    assert ooo == [(5_500, 5_501), (12_345, 12_346), (25_000, 25_101)]
    in_order = sorted((m["minTime"], m["maxTime"]) for m in metas
                      if not m["compaction"].get("hints"))
    assert in_order == [(k * R, (k + 1) * R) for k in range(5)]  # none overlaps another
    assert stored(ing) == want
    assert await ing.stored_samples("t1") == (total, 8)
    assert ing.tenant_tsdb("t1").head.num_samples() == 10 + 1  # 50s..59s of "a", and "d"
    for m in metas:  # promtool reads the out-of-order blocks (histograms too)
        if m["compaction"].get("hints"):
            assert f"Block ID: {m['ulid']}" in run_promtool("tsdb", "analyze", str(tdir),
                                                             m["ulid"])
    await ing.stop()

    # Restart after the cut: the blocks hold them, the head does not again.
    ing = start(log, data)
    await ing.start()
    assert stored(ing) == want
    assert await ing.stored_samples("t1") == (total, 8)
    assert await ing.compact() == 0
    await ing.stop()
    await log.close()
