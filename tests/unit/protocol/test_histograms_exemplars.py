"""Decoding native histograms, exemplars and metadata from RW 1.0, RW 2.0 and record v2."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidewell.model import (
    CounterResetHint,
    Exemplar,
    Histogram,
    Labels,
    MetricMetadata,
    MetricType,
    SampleBatch,
)
from tidewell.protocol import decode_record_value, decode_write_request, encode_write_request
from tidewell.protocol.pb import prompb_pb2 as pb
from tidewell.protocol.pb import writev2_pb2 as pb2
from tidewell.protocol.rw2 import V2_SYMBOL_OFFSET, parse_rw2, rw2_to_rw1

INT_H = Histogram(
    schema=1, zero_threshold=0.001, zero_count=2, count=12, sum=18.5,
    positive_spans=((0, 2), (1, 2)), positive_buckets=(1, 3, 2, 1),
    negative_spans=((-1, 1),), negative_buckets=(3,),
    counter_reset_hint=CounterResetHint.NOT_COUNTER_RESET, integer=True,
)
FLOAT_H = Histogram(
    schema=-2, zero_threshold=0.0, zero_count=0.5, count=7.25, sum=-3.0,
    positive_spans=((2, 3),), positive_buckets=(1.25, 0.0, 5.5),
    counter_reset_hint=CounterResetHint.GAUGE, integer=False,
)
NHCB = Histogram(
    schema=-53, count=6, sum=4.0, positive_spans=((0, 3),), positive_buckets=(1, 2, 3),
    custom_values=(0.1, 0.5, 1.0), integer=True,
)


def _wire_int_histogram() -> pb.Histogram:
    h = pb.Histogram(count_int=12, zero_count_int=2, sum=18.5, schema=1, zero_threshold=0.001,
                     timestamp=1000, reset_hint=pb.Histogram.NO)
    h.positive_spans.add(offset=0, length=2)
    h.positive_spans.add(offset=1, length=2)
    h.positive_deltas.extend([1, 2, -1, -1])  # absolute 1, 3, 2, 1
    h.negative_spans.add(offset=-1, length=1)
    h.negative_deltas.extend([3])
    return h


def test_rw1_integer_histogram_deltas_become_absolute_counts():
    wr = pb.WriteRequest()
    ts = wr.timeseries.add()
    ts.labels.add(name="__name__", value="lat")
    ts.histograms.append(_wire_int_histogram())
    batch = decode_write_request(wr.SerializeToString())
    assert len(batch) == 0 and batch.num_samples == 1
    assert batch.histograms == [INT_H]
    assert batch.hist_timestamps.tolist() == [1000]
    assert [batch.labels[i] for i in batch.hist_series_index.tolist()] == [
        Labels({"__name__": "lat"}.items())]


def test_encode_decode_keeps_every_kind_beside_floats():
    labels = [Labels.from_dict({"__name__": "a"}), Labels.from_dict({"__name__": "h", "x": "1"}),
              Labels.from_dict({"__name__": "only_h"})]
    ex = Exemplar(Labels.from_dict({"trace_id": "abc"}), 1.5, 999)
    batch = SampleBatch(
        labels=labels,
        series_index=np.array([0, 0, 1], dtype=np.int32),
        timestamps=np.array([1, 2, 3], dtype=np.int64),
        values=np.array([1.0, 2.0, 3.0]),
        hist_series_index=np.array([1, 2, 2, 1], dtype=np.int32),
        hist_timestamps=np.array([10, 20, 30, 40], dtype=np.int64),
        histograms=[INT_H, FLOAT_H, NHCB, FLOAT_H],
        exemplars=[(0, ex), (2, Exemplar(Labels.from_dict({"span_id": "1"}), 2.0, 5))],
        metadata=[MetricMetadata("a", MetricType.COUNTER, "help text", "seconds")],
    )
    for version in (0, 1):
        got = decode_record_value(encode_write_request(batch), version)
        assert got.values.tolist() == [1.0, 2.0, 3.0]
        pairs = sorted(
            (str(got.labels[i]), t, h) for i, t, h in zip(
                got.hist_series_index.tolist(), got.hist_timestamps.tolist(), got.histograms,
                strict=True)
        )
        assert [(p[0], p[1]) for p in pairs] == [
            ('h{x="1"}', 10), ('h{x="1"}', 40), ("only_h", 20), ("only_h", 30)]
        assert [p[2] for p in pairs] == [INT_H, FLOAT_H, FLOAT_H, NHCB]
        assert [(str(got.labels[i]), e) for i, e in got.exemplars] == [
            ("a", ex), ("only_h", Exemplar(Labels.from_dict({"span_id": "1"}), 2.0, 5))]
        assert got.metadata == batch.metadata


counts = st.integers(0, 1000)


@st.composite
def histograms(draw) -> Histogram:
    integer = draw(st.booleans())
    num = counts if integer else st.floats(0, 1e6, allow_nan=False)
    custom = draw(st.booleans())
    n_pos = draw(st.integers(0, 6))
    pos = tuple(float(draw(num)) for _ in range(n_pos))
    if custom:
        bounds = tuple(sorted({draw(st.floats(-1e3, 1e3, allow_nan=False))
                               for _ in range(n_pos + 1)}))
        return Histogram(schema=-53, count=float(sum(pos)), sum=draw(st.floats(allow_nan=False)),
                         positive_spans=((0, n_pos),) if n_pos else (),
                         positive_buckets=pos, custom_values=bounds, integer=integer)
    n_neg = draw(st.integers(0, 4))
    neg = tuple(float(draw(num)) for _ in range(n_neg))
    zero = float(draw(num))
    return Histogram(
        schema=draw(st.integers(-4, 8)), zero_threshold=draw(st.sampled_from([0.0, 1e-128])),
        zero_count=zero, count=zero + sum(pos) + sum(neg), sum=draw(st.floats(allow_nan=False)),
        positive_spans=((draw(st.integers(-5, 5)), n_pos),) if n_pos else (),
        positive_buckets=pos,
        negative_spans=((draw(st.integers(-5, 5)), n_neg),) if n_neg else (),
        negative_buckets=neg,
        counter_reset_hint=CounterResetHint(draw(st.integers(0, 3))), integer=integer,
    )


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(histograms(), min_size=1, max_size=5))
def test_histogram_round_trip(hs):
    batch = SampleBatch(labels=[Labels.from_dict({"__name__": "h"})],
                        hist_series_index=np.zeros(len(hs), dtype=np.int32),
                        hist_timestamps=np.arange(len(hs), dtype=np.int64),
                        histograms=hs)
    got = decode_write_request(encode_write_request(batch))
    assert got.histograms == hs
    assert got.hist_timestamps.tolist() == list(range(len(hs)))


def _rw2_request(common: bool) -> bytes:
    """An RW 2.0 request; ``common`` uses Mimir's record-v2 reference scheme."""
    symbols = ["", "__name__", "lat", "trace_id", "t1", "request latency", "seconds"]
    base = V2_SYMBOL_OFFSET if common else 0

    def ref(s: str) -> int:
        return symbols.index(s) + base

    req = pb2.Request()
    req.symbols.extend(symbols)
    ts = req.timeseries.add()
    ts.labels_refs.extend([ref("__name__"), ref("lat")])
    h = ts.histograms.add()
    h.MergeFromString(_wire_int_histogram().SerializeToString())
    f = ts.histograms.add(count_float=7.25, zero_count_float=0.5, sum=-3.0, schema=-2,
                          timestamp=2000, reset_hint=pb2.Histogram.RESET_HINT_GAUGE)
    f.positive_spans.add(offset=2, length=3)
    f.positive_counts.extend([1.25, 0.0, 5.5])
    e = ts.exemplars.add(value=0.3, timestamp=1000)
    e.labels_refs.extend([ref("trace_id"), ref("t1")])
    ts.metadata.type = pb2.Metadata.METRIC_TYPE_HISTOGRAM
    ts.metadata.help_ref = ref("request latency")
    ts.metadata.unit_ref = ref("seconds")
    return req.SerializeToString()


def _check_rw2_batch(batch: SampleBatch) -> None:
    assert batch.histograms == [INT_H, FLOAT_H]
    assert batch.hist_timestamps.tolist() == [1000, 2000]
    assert batch.exemplars == [(0, Exemplar(Labels.from_dict({"trace_id": "t1"}), 0.3, 1000))]
    assert batch.metadata == [
        MetricMetadata("lat", MetricType.HISTOGRAM, "request latency", "seconds")]


def test_rw2_push_keeps_histograms_exemplars_metadata():
    wr, stats = rw2_to_rw1(parse_rw2(_rw2_request(common=False)))
    assert (stats.samples, stats.histograms, stats.exemplars) == (0, 2, 1)
    _check_rw2_batch(decode_write_request(wr.SerializeToString()))


def test_record_v2_keeps_histograms_exemplars_metadata():
    _check_rw2_batch(decode_record_value(_rw2_request(common=True), 2))


def test_otlp_exponential_histogram_exemplars_and_metadata_reach_the_batch():
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as svc
    from opentelemetry.proto.metrics.v1 import metrics_pb2 as m

    from tidewell.protocol.otlp import decode_otlp
    from tidewell.protocol.otlp_names import OTLPNaming

    req = svc.ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    kv = rm.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "api"
    sm = rm.scope_metrics.add()
    eh_metric = sm.metrics.add()
    eh_metric.name, eh_metric.unit, eh_metric.description = "rpc.duration", "s", "RPC time"
    eh = eh_metric.exponential_histogram
    eh.aggregation_temporality = m.AGGREGATION_TEMPORALITY_CUMULATIVE
    dp = eh.data_points.add()
    dp.time_unix_nano, dp.count, dp.sum, dp.scale, dp.zero_count = 5_000_000, 6, 3.0, 2, 1
    dp.positive.offset = -1
    dp.positive.bucket_counts.extend([2, 0, 3])
    ex = dp.exemplars.add(time_unix_nano=4_000_000, as_double=0.7)
    ex.trace_id = bytes.fromhex("0102030405060708090a0b0c0d0e0f10")
    ex.span_id = bytes.fromhex("0102030405060708")
    hist_metric = sm.metrics.add()
    hist_metric.name = "size"
    hist_metric.histogram.aggregation_temporality = m.AGGREGATION_TEMPORALITY_CUMULATIVE
    hp = hist_metric.histogram.data_points.add(time_unix_nano=5_000_000, count=3, sum=4.5)
    hp.explicit_bounds.extend([0.5, 1.0])
    hp.bucket_counts.extend([1, 1, 1])
    hp.exemplars.add(time_unix_nano=5_000_000, as_int=1)  # goes to le="1"
    hp.exemplars.add(time_unix_nano=5_000_000, as_double=9.0)  # goes to le="+Inf"
    counter = sm.metrics.add()
    counter.name = "hits"
    counter.sum.is_monotonic = True
    counter.sum.aggregation_temporality = m.AGGREGATION_TEMPORALITY_CUMULATIVE
    cp = counter.sum.data_points.add(time_unix_nano=5_000_000, as_int=7)
    e = cp.exemplars.add(time_unix_nano=5_000_000, as_int=1)
    a = e.filtered_attributes.add()
    a.key, a.value.string_value = "user", "u1"

    naming = OTLPNaming.from_strategy("UnderscoreEscapingWithSuffixes")
    batch = decode_write_request(
        decode_otlp(req.SerializeToString(), naming=naming).SerializeToString())
    (i,) = batch.hist_series_index.tolist()
    assert str(batch.labels[i]) == 'rpc_duration_seconds{job="api"}'
    assert batch.histograms == [Histogram(
        schema=2, zero_count=1, count=6, sum=3.0, positive_spans=((0, 3),),
        positive_buckets=(2, 0, 3), integer=True)]
    got = {(str(batch.labels[i]), e) for i, e in batch.exemplars}
    assert got == {
        ('rpc_duration_seconds{job="api"}', Exemplar(Labels.from_dict(
            {"trace_id": "0102030405060708090a0b0c0d0e0f10", "span_id": "0102030405060708"}),
            0.7, 4)),
        ('size_bucket{job="api", le="1"}', Exemplar(Labels(), 1.0, 5)),
        ('size_bucket{job="api", le="+Inf"}', Exemplar(Labels(), 9.0, 5)),
        ('hits_total{job="api"}', Exemplar(Labels.from_dict({"user": "u1"}), 1.0, 5)),
    }
    assert MetricMetadata("rpc_duration_seconds", MetricType.HISTOGRAM, "RPC time", "s") in (
        batch.metadata)


def _explicit_histogram_request(counts: list[int], bounds: list[float]) -> bytes:
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as svc
    from opentelemetry.proto.metrics.v1 import metrics_pb2 as m

    req = svc.ExportMetricsServiceRequest()
    metric = req.resource_metrics.add().scope_metrics.add().metrics.add()
    metric.name = "size"
    metric.histogram.aggregation_temporality = m.AGGREGATION_TEMPORALITY_CUMULATIVE
    dp = metric.histogram.data_points.add(time_unix_nano=7_000_000, count=sum(counts), sum=9.0)
    dp.explicit_bounds.extend(bounds)
    dp.bucket_counts.extend(counts)
    dp.exemplars.add(time_unix_nano=7_000_000, as_double=0.2)
    return req.SerializeToString()


def test_otlp_explicit_histogram_to_nhcb_when_asked():
    from tidewell.distributor.histograms import check_histogram
    from tidewell.protocol.otlp import decode_otlp

    bounds = [0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0]
    counts = [0, 2, 0, 0, 1, 0, 0, 0, 3]  # small gap filled, big gap a new span
    raw = _explicit_histogram_request(counts, bounds)
    classic = decode_write_request(decode_otlp(raw).SerializeToString())
    assert classic.histograms == [] and len(classic.labels) == 1 + 1 + len(bounds) + 1
    batch = decode_write_request(
        decode_otlp(raw, convert_histograms_to_nhcb=True).SerializeToString())
    assert [str(x) for x in batch.labels] == ["size"]
    assert batch.histograms == [Histogram(
        schema=-53, count=6, sum=9.0, positive_spans=((1, 4), (3, 1)),
        positive_buckets=(2, 0, 0, 1, 3), custom_values=tuple(bounds), integer=True)]
    check_histogram(batch.histograms[0])  # the distributor accepts it
    assert batch.hist_timestamps.tolist() == [7]
    assert [e.value for _, e in batch.exemplars] == [0.2]
    assert batch.metadata == [MetricMetadata("size", MetricType.HISTOGRAM)]
