"""RW 1.0, RW 2.0 and OTLP pushes with native histograms, exemplars and metadata go through
the distributor, a real log (embedded; Apache Kafka and tansu brokers) and the ingester;
the head and the tenant stores give back exactly what was pushed, also after a restart."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as svc
from opentelemetry.proto.metrics.v1 import metrics_pb2 as mpb

from tests.unit.distributor.helpers import make_ring, now_ms
from tidewell.distributor import Distributor, DistributorConfig, Limits, Overrides
from tidewell.model import (
    CounterResetHint,
    Exemplar,
    Histogram,
    Labels,
    MetricMetadata,
    MetricType,
)
from tidewell.protocol.otlp import decode_otlp
from tidewell.protocol.pb import prompb_pb2 as pb
from tidewell.protocol.pb import writev2_pb2 as pb2
from tidewell.protocol.prompb_model import histogram_to_pb
from tidewell.protocol.rw2 import parse_rw2, rw2_to_rw1

from .conftest import LogOpener, new_ingester

pytestmark = [pytest.mark.timeout(120), pytest.mark.anyio]

INT_H = Histogram(schema=0, zero_threshold=1e-128, zero_count=1, count=7, sum=9.5,
                  positive_spans=((0, 2), (2, 1)), positive_buckets=(1, 3, 1),
                  negative_spans=((1, 1),), negative_buckets=(1,), integer=True)
# The head keeps reset hints as Prometheus's chunks do (per chunk, not per sample), so a
# series' first histogram reads back UNKNOWN whatever it was sent with; the log keeps it
# exactly (tests/unit/protocol, tests/unit/distributor).
FLOAT_H = Histogram(schema=3, count=2.5, sum=-1.0, positive_spans=((-2, 2),),
                    positive_buckets=(1.25, 1.25), counter_reset_hint=CounterResetHint.GAUGE)
NHCB = Histogram(schema=-53, count=4, sum=2.0, positive_spans=((0, 2), (1, 1)),
                 positive_buckets=(1, 2, 1), custom_values=(0.1, 0.2, 0.5), integer=True)


def _rw1(t: int) -> bytes:
    wr = pb.WriteRequest()
    ts = wr.timeseries.add()
    ts.labels.add(name="__name__", value="rw1_latency")
    histogram_to_pb(INT_H, t, ts.histograms.add())
    histogram_to_pb(NHCB, t + 1, ts.histograms.add())  # a schema change within the series
    ex = ts.exemplars.add(value=0.25, timestamp=t)
    ex.labels.add(name="trace_id", value="rw1-trace")
    md = wr.metadata.add(metric_family_name="rw1_latency", help="RW1 latency", unit="seconds")
    md.type = pb.MetricMetadata.HISTOGRAM
    return wr.SerializeToString()


def _rw2(t: int) -> bytes:
    req = pb2.Request()
    req.symbols.extend(["", "__name__", "rw2_gauge_h", "trace_id", "rw2-trace", "gauge help"])
    ts = req.timeseries.add()
    ts.labels_refs.extend([1, 2])
    h = ts.histograms.add()
    h.MergeFromString(histogram_to_pb(FLOAT_H, t).SerializeToString())
    ex = ts.exemplars.add(value=1.0, timestamp=t)
    ex.labels_refs.extend([3, 4])
    ts.metadata.type = pb2.Metadata.METRIC_TYPE_GAUGEHISTOGRAM
    ts.metadata.help_ref = 5
    wr, _ = rw2_to_rw1(parse_rw2(req.SerializeToString()))
    return wr.SerializeToString()


def _otlp(t: int) -> bytes:
    req = svc.ExportMetricsServiceRequest()
    metric = req.resource_metrics.add().scope_metrics.add().metrics.add()
    metric.name, metric.description = "otlp_dur", "OTLP duration"
    eh = metric.exponential_histogram
    eh.aggregation_temporality = mpb.AGGREGATION_TEMPORALITY_CUMULATIVE
    dp = eh.data_points.add(time_unix_nano=t * 1_000_000, count=5, sum=4.0, scale=1,
                            zero_count=0)
    dp.positive.offset = 0
    dp.positive.bucket_counts.extend([2, 3])
    ex = dp.exemplars.add(time_unix_nano=t * 1_000_000, as_double=1.1)
    ex.span_id = bytes.fromhex("00000000000000aa")
    return decode_otlp(req.SerializeToString()).SerializeToString()


OTLP_H = Histogram(schema=1, count=5, sum=4.0, positive_spans=((1, 2),), positive_buckets=(2, 3),
                   integer=True)


def _check(ing, t: int) -> None:
    got = {}
    for s in ing.querier("t1", 0, 10**15).select([]):
        assert len(s) == 0  # no float sample was pushed
        got[str(s.labels)] = list(zip(s.histograms.timestamps.tolist(), s.histograms.values,
                                      strict=True))
    assert got == {
        "otlp_dur": [(t, OTLP_H)],
        "rw1_latency": [(t, INT_H), (t + 1, NHCB)],
        "rw2_gauge_h": [(t, FLOAT_H)],
    }
    tsdb = ing.tenant_tsdb("t1")
    exemplars = {str(ls): exs for ls, exs in tsdb.exemplars.select(0, 10**15, [[]])}
    assert exemplars == {
        "otlp_dur": [Exemplar(Labels.from_dict({"span_id": "00000000000000aa"}), 1.1, t)],
        "rw1_latency": [Exemplar(Labels.from_dict({"trace_id": "rw1-trace"}), 0.25, t)],
        "rw2_gauge_h": [Exemplar(Labels.from_dict({"trace_id": "rw2-trace"}), 1.0, t)],
    }
    assert tsdb.metadata.query() == [
        MetricMetadata("otlp_dur", MetricType.HISTOGRAM, "OTLP duration", ""),
        MetricMetadata("rw1_latency", MetricType.HISTOGRAM, "RW1 latency", "seconds"),
        MetricMetadata("rw2_gauge_h", MetricType.GAUGEHISTOGRAM, "gauge help", ""),
    ]


@pytest.mark.parametrize("backend", ["embedded", "kafka", "tansu"])
async def test_every_protocol_through_the_log_to_the_head_and_back_after_restart(
    backend: str, tmp_path: Path, open_log: LogOpener
) -> None:
    writer, reader, close = await open_log(backend, "hist")
    try:
        dist = Distributor(DistributorConfig(), Overrides(Limits()), make_ring(1), writer)
        t = now_ms()
        for raw in (_rw1(t), _rw2(t), _otlp(t)):
            result = await dist.push("t1", raw)
            assert result.histograms >= 1 and result.exemplars == 1
        for _ in range(2):  # the second start has only its WAL (the log is consumed)
            ing = new_ingester(reader, str(tmp_path / "ing"), "ingester-zone-a-0",
                               snapshot_on_shutdown=False)
            await ing.start()
            try:
                await ing.wait_strong(30)
                _check(ing, t)
            finally:
                await ing.stop()
    finally:
        await close()
