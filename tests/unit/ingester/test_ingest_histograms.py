"""Native histograms, exemplars and metadata through the ingester: log → WAL → head/stores."""

from __future__ import annotations

import math
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import REGISTRY

from tidewell.ingest.log import ProduceRequest
from tidewell.ingester.wal import RecordWAL, ResolvedEntry
from tidewell.model import (
    STALE_NAN_BITS,
    CounterResetHint,
    Exemplar,
    Histogram,
    Labels,
    MetricMetadata,
    MetricType,
    SampleBatch,
)
from tidewell.protocol.rw1 import encode_write_request

from .conftest import new_ingester, new_log

pytestmark = [pytest.mark.timeout(60), pytest.mark.anyio]

P = 3
FLOATS = Labels.from_dict({"__name__": "up", "job": "a"})
HIST = Labels.from_dict({"__name__": "lat", "job": "a"})
ONLY_EX = Labels.from_dict({"__name__": "requests_total", "job": "b"})
STALE = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]


def _h(i: int, *, integer: bool = True) -> Histogram:
    return Histogram(schema=1, zero_count=1, count=4 + i, sum=2.5 * i, positive_spans=((0, 2),),
                     positive_buckets=(1, 2 + i), integer=integer,
                     counter_reset_hint=CounterResetHint.NOT_COUNTER_RESET if i else
                     CounterResetHint.UNKNOWN)


NHCB = Histogram(schema=-53, count=3, sum=1.0, positive_spans=((0, 2),), positive_buckets=(1, 2),
                 custom_values=(0.5,), integer=True)


def _record(k: int) -> ProduceRequest:
    """Record k: floats, an integer and a float histogram series, exemplars, metadata.

    ``ONLY_EX`` has a sample in record 0 only, then exemplars alone (its series
    exists); ``never`` has exemplars and no series at all: Mimir drops those.
    """
    t = 1000 * (k + 1)
    labels = [FLOATS, HIST, Labels.from_dict({"__name__": "flt"}), ONLY_EX,
              Labels.from_dict({"__name__": "never"})]
    floats = [0, 3] if k == 0 else [0]
    batch = SampleBatch(
        labels=labels,
        series_index=np.array(floats, dtype=np.int32),
        timestamps=np.full(len(floats), t, dtype=np.int64),
        values=np.full(len(floats), float(k)),
        hist_series_index=np.array([1, 2], dtype=np.int32),
        hist_timestamps=np.array([t, t], dtype=np.int64),
        histograms=[_h(k), _h(k, integer=False)],
        exemplars=[(1, Exemplar(Labels.from_dict({"trace_id": f"h{k}"}), 0.5, t)),
                   (3, Exemplar(Labels.from_dict({"trace_id": f"x{k}"}), 1.0, t)),
                   (4, Exemplar(Labels.from_dict({"trace_id": f"n{k}"}), 1.0, t))],
        metadata=[MetricMetadata("lat", MetricType.HISTOGRAM, "request latency", "seconds")],
    )
    return ProduceRequest(P, b"t1", encode_write_request(batch), 1)


def _nhcb_and_stale() -> ProduceRequest:
    batch = SampleBatch(
        labels=[Labels.from_dict({"__name__": "nhcb"}), HIST],
        hist_series_index=np.array([0, 1], dtype=np.int32),
        hist_timestamps=np.array([100_000, 100_000], dtype=np.int64),
        histograms=[NHCB, Histogram(sum=STALE, integer=True)],
    )
    return ProduceRequest(P, b"t1", encode_write_request(batch), 1)


def _histograms(ing, tenant: str = "t1") -> dict[str, list[tuple[int, Histogram]]]:
    out = {}
    for s in ing.querier(tenant, 0, 10**12).select([]):
        if s.histograms is not None and len(s.histograms):
            out[str(s.labels)] = list(zip(s.histograms.timestamps.tolist(), s.histograms.values,
                                          strict=True))
    return out


def _exemplars(ing, tenant: str = "t1") -> dict[str, list[str]]:
    tsdb = ing.tenant_tsdb(tenant)
    return {str(ls): [e.labels.get("trace_id") for e in exs]
            for ls, exs in tsdb.exemplars.select(0, 10**12, [[]])}


def _same_histograms(a, b) -> bool:
    """Equal, with stale-NaN sums compared by bits (NaN != NaN)."""
    def key(h: Histogram):
        return (struct.pack("<d", h.sum), h.__class__(**{**{f: getattr(h, f) for f in (
            "schema", "zero_threshold", "zero_count", "count", "positive_spans",
            "positive_buckets", "negative_spans", "negative_buckets", "counter_reset_hint",
            "custom_values", "integer")}, "sum": 0.0}))
    return {k: [(t, key(h)) for t, h in v] for k, v in a.items()} == {
        k: [(t, key(h)) for t, h in v] for k, v in b.items()}


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize("snapshot", [False, True], ids=["wal-replay", "snapshot"])
async def test_histograms_exemplars_metadata_survive_a_restart(tmp_path: Path,
                                                               snapshot: bool) -> None:
    log = new_log(str(tmp_path / "log"))
    for k in range(5):
        await log.produce([_record(k)])
    await log.produce([_nhcb_and_stale()])
    ex_before = _metric("cortex_ingester_ingested_exemplars_total")
    ex_failed = _metric("cortex_ingester_ingested_exemplars_failures_total")
    samples = _metric("cortex_ingester_ingested_samples_total", user="t1")
    ing = new_ingester(log, str(tmp_path / "ing"), snapshot_on_shutdown=snapshot)
    await ing.start()
    got = _histograms(ing)
    assert list(got) == ["flt", 'lat{job="a"}', "nhcb"]
    assert got["flt"] == [(1000 * (k + 1), _h(k, integer=False)) for k in range(5)]
    assert got['lat{job="a"}'][:5] == [(1000 * (k + 1), _h(k)) for k in range(5)]
    stale_t, stale_h = got['lat{job="a"}'][5]
    assert stale_t == 100_000 and struct.pack("<d", stale_h.sum) == struct.pack("<d", STALE)
    assert got["nhcb"] == [(100_000, NHCB)]
    floats = {str(s.labels): s.values.tolist() for s in ing.querier("t1", 0, 10**12).select([])
              if len(s)}
    assert floats == {'up{job="a"}': [0.0, 1.0, 2.0, 3.0, 4.0], 'requests_total{job="b"}': [0.0]}
    assert _exemplars(ing) == {'lat{job="a"}': [f"h{k}" for k in range(5)],
                               'requests_total{job="b"}': [f"x{k}" for k in range(5)]}
    assert ing.tenant_tsdb("t1").metadata.query() == [
        MetricMetadata("lat", MetricType.HISTOGRAM, "request latency", "seconds")]
    assert _metric("cortex_ingester_ingested_exemplars_total") - ex_before == 10
    assert _metric("cortex_ingester_ingested_exemplars_failures_total") - ex_failed == 5
    # As Mimir: histograms count as samples (6 floats, 10 + 2 histograms).
    assert _metric("cortex_ingester_ingested_samples_total", user="t1") - samples == 18
    await ing.stop()

    ing = new_ingester(log, str(tmp_path / "ing"), snapshot_on_shutdown=snapshot)
    await ing.start()
    if snapshot:
        assert os.listdir(tmp_path / "ing" / "tsdb" / "snapshots")
    assert _exemplars(ing) == {'lat{job="a"}': [f"h{k}" for k in range(5)],
                               'requests_total{job="b"}': [f"x{k}" for k in range(5)]}
    assert ing.tenant_tsdb("t1").metadata.query() == [
        MetricMetadata("lat", MetricType.HISTOGRAM, "request latency", "seconds")]
    assert _same_histograms(_histograms(ing), got)
    await ing.stop()
    await log.close()


def test_wal_entry_round_trip_with_and_without_extras(tmp_path: Path) -> None:
    plain = ResolvedEntry(1, 10, "t", 0, 0, [FLOATS], np.array([0], dtype=np.int32),
                          np.array([5], dtype=np.int64), np.array([1.5]))
    full = ResolvedEntry(2, 20, "t", 60_000, 1, [HIST], np.array([0], dtype=np.int32),
                         np.array([6], dtype=np.int64), np.array([2.5]),
                         hist_refs=np.array([1, 1], dtype=np.int32),
                         hist_timestamps=np.array([6, 7], dtype=np.int64),
                         histograms=[_h(1), NHCB],
                         exemplars=[(HIST, [Exemplar(Labels.from_dict({"a": "b"}), 1.0, 6)])],
                         metadata=[MetricMetadata("lat", MetricType.GAUGE, "h", "u")])
    wal = RecordWAL(str(tmp_path / "wal"), 0)
    wal.append([plain, full])
    wal.close()
    a, b = list(RecordWAL(str(tmp_path / "wal"), 0).replay())
    assert not a.has_extras and a.values.tolist() == [1.5]
    assert (b.ooo_window_ms, b.first_ref, b.new_labels) == (60_000, 1, [HIST])
    assert b.hist_refs.tolist() == [1, 1] and b.hist_timestamps.tolist() == [6, 7]
    assert b.histograms == [_h(1), NHCB]
    assert b.exemplars == full.exemplars and b.metadata == full.metadata
    assert plain.encode_value() == ResolvedEntry.decode(1, 10, "t", plain.encode_value()
                                                        ).encode_value()
    assert not math.isnan(b.values[0])


async def test_logging_the_stores_at_a_snapshot_does_not_call_for_the_next(
    tmp_path: Path,
) -> None:
    log = new_log(str(tmp_path / "log"))
    many = SampleBatch(
        labels=[FLOATS], series_index=np.array([0], dtype=np.int32),
        timestamps=np.array([1000], dtype=np.int64), values=np.array([1.0]),
        exemplars=[(0, Exemplar(Labels.from_dict({"trace_id": os.urandom(16).hex()}), 1.0,
                                1000 + i)) for i in range(400)])
    await log.produce([ProduceRequest(P, b"t1", encode_write_request(many), 1)])
    ing = new_ingester(log, str(tmp_path / "ing"),
                       tsdb_settings={"memory_snapshot_wal_size_bytes": 4096})
    before = _metric("cortex_ingester_tsdb_memory_snapshots_total", outcome="success")
    await ing.start()
    for k in range(5):
        small = SampleBatch(labels=[FLOATS], series_index=np.array([0], dtype=np.int32),
                            timestamps=np.array([2000 + k], dtype=np.int64),
                            values=np.array([2.0]))
        await log.produce([ProduceRequest(P, b"t1", encode_write_request(small), 1)])
        await ing.wait_strong(5)
    snapshots = _metric("cortex_ingester_tsdb_memory_snapshots_total", outcome="success") - before
    assert snapshots == 1
    assert len(_exemplars(ing)[str(FLOATS)]) == 400
    await ing.stop()
    await log.close()
