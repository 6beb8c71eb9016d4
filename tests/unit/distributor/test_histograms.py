"""Native histograms and exemplars in the distributor: Mimir's limits, checks and messages."""

from __future__ import annotations

import math

import pytest

from tests.support.metrics import metric_value
from tests.unit.distributor.helpers import Harness, now_ms, series
from tidewell.distributor import Limits, PartialValidationError
from tidewell.distributor import metrics as m
from tidewell.distributor.histograms import HistogramProblem, check_histogram, reduce_resolution
from tidewell.model import Histogram, Labels, MetricMetadata, MetricType
from tidewell.protocol import snappy_compress
from tidewell.protocol.pb import prompb_pb2 as pb
from tidewell.protocol.prompb_model import histogram_from_pb, histogram_to_pb

GOOD = {"__name__": "good_metric", "job": "ok"}
OK_H = Histogram(schema=1, zero_count=1, count=11, sum=5.0, positive_spans=((0, 4),),
                 positive_buckets=(1, 2, 3, 4), integer=True)


def _problem(h: Histogram) -> tuple[str, str]:
    with pytest.raises(HistogramProblem) as exc:
        check_histogram(h)
    return exc.value.id, exc.value.text


def test_check_histogram_refuses_what_prometheus_validate_refuses():
    check_histogram(OK_H)
    assert _problem(Histogram(count=3, positive_spans=((0, 2),), positive_buckets=(1, 1, 1),
                              integer=True)) == (
        "native-histogram-spans-buckets-mismatch",
        "positive side: spans need 2 buckets, have 3 buckets: histogram spans specify "
        "different number of buckets than provided")
    assert _problem(Histogram(count=3, negative_spans=((0, 1), (-1, 1)),
                              negative_buckets=(1, 2), integer=True)) == (
        "native-histogram-span-negative-offset",
        "negative side: span number 2 with offset -1: histogram has a span whose offset is "
        "negative")
    assert _problem(Histogram(count=1, positive_spans=((0, 2),), positive_buckets=(2, -1),
                              integer=True)) == (
        "native-histogram-negative-bucket-count",
        "positive side: bucket number 2 has observation count of -1: histogram has a bucket "
        "whose observation count is negative")
    assert _problem(Histogram(count=22, zero_count=1, positive_spans=((0, 2),),
                              positive_buckets=(10, 10), integer=True)) == (
        "native-histogram-count-mismatch",
        "21 observations found in buckets, but the Count field is 22: histogram's observation "
        "count should equal the number of observations found in the buckets (in absence of NaN)")
    assert _problem(Histogram(count=1, sum=math.nan, positive_spans=((0, 1),),
                              positive_buckets=(2,), integer=True))[0] == (
        "native-histogram-count-not-big-enough")
    # NaN observations count without a bucket; float histograms skip the count check.
    check_histogram(Histogram(count=5, sum=math.nan, positive_spans=((0, 1),),
                              positive_buckets=(2,), integer=True))
    check_histogram(Histogram(count=99.5, positive_spans=((0, 1),), positive_buckets=(2.0,)))


def test_check_histogram_custom_buckets():
    nhcb = Histogram(schema=-53, count=3, positive_spans=((0, 3),), positive_buckets=(1, 1, 1),
                     custom_values=(1.0, 2.0), integer=True)
    check_histogram(nhcb)
    assert _problem(Histogram(schema=-53, count=3, positive_spans=((0, 3),),
                              positive_buckets=(1, 1, 1), custom_values=(2.0, 1.0),
                              integer=True))[0] == "native-histogram-custom-buckets-invalid"
    assert _problem(Histogram(schema=-53, count=3, positive_spans=((0, 3),),
                              positive_buckets=(1, 1, 1), custom_values=(1.0, math.inf),
                              integer=True))[0] == "native-histogram-custom-buckets-infinite"
    assert _problem(Histogram(schema=-53, count=3, positive_spans=((1, 3),),
                              positive_buckets=(1, 1, 1), custom_values=(1.0, 2.0),
                              integer=True)) == (
        "native-histogram-custom-buckets-mismatch",
        "custom buckets: only 2 custom bounds defined which is insufficient to cover total "
        "span length of 4: histogram custom bounds are too few")


def test_reduce_resolution_merges_buckets_as_prometheus_indexes_them():
    # Schema 1 buckets 0..3 land in schema 0 buckets 0, 1, 1, 2.
    got = reduce_resolution(OK_H, 0)
    assert (got.schema, got.positive_spans, got.positive_buckets) == (0, ((0, 3),), (1, 5, 4))
    # A gap wide enough to survive the merge stays a gap.
    h = Histogram(schema=2, count=2, positive_spans=((-3, 1), (10, 1)), positive_buckets=(1, 1),
                  integer=True)
    got = reduce_resolution(h, 0)  # -3 -> 0 ; 8 -> 2
    assert got.positive_spans == ((0, 1), (1, 1)) and got.positive_buckets == (1, 1)
    check_histogram(got)


def _push_histograms(h: Harness, *hists: Histogram, labels=None):
    wr = pb.WriteRequest()
    series(wr, GOOD, sort=True)
    ts = series(wr, labels or {"__name__": "lat", "job": "a"}, [])
    t = now_ms()
    for i, hist in enumerate(hists):
        histogram_to_pb(hist, t + i, ts.histograms.add())
    return h.push("tenant-h", wr.SerializeToString())


def _written_histograms(h: Harness) -> list[Histogram]:
    return [x for b in h.writer.batches() for x in b.histograms]


def test_valid_histograms_are_written_by_default():
    h = Harness()
    result = _push_histograms(h, OK_H, OK_H)
    assert (result.samples, result.histograms) == (1, 2)
    assert _written_histograms(h) == [OK_H, OK_H]


def test_inconsistent_histogram_is_400_naming_the_series_and_the_rest_is_written():
    h = Harness()
    bad = Histogram(count=22, zero_count=1, positive_spans=((0, 2),), positive_buckets=(10, 10),
                    integer=True)
    before = metric_value(m.DISCARDED_SAMPLES, "tenant-h", "invalid_native_histogram")
    with pytest.raises(PartialValidationError) as exc:
        _push_histograms(h, OK_H, bad)
    msg = exc.value.message
    assert msg.startswith("err: 21 observations found in buckets, but the Count field is 22: ")
    assert 'series={__name__="lat", job="a"} (err-mimir-native-histogram-count-mismatch)' in msg
    assert "timestamp=20" in msg and msg.count("Z, series=") == 1
    assert Labels.from_dict(GOOD) in h.writer.series()
    assert _written_histograms(h) == []  # as Mimir: the whole series goes
    after = metric_value(m.DISCARDED_SAMPLES, "tenant-h", "invalid_native_histogram")
    assert after - before == 2


def test_bucket_limit_reduces_resolution_by_default():
    h = Harness(Limits(max_native_histogram_buckets=3))
    _push_histograms(h, OK_H)
    (got,) = _written_histograms(h)
    assert got == reduce_resolution(OK_H, 0)


def test_bucket_limit_without_reduction_is_mimirs_message():
    h = Harness(Limits(max_native_histogram_buckets=3,
                       reduce_native_histogram_over_max_buckets=False))
    with pytest.raises(PartialValidationError) as exc:
        _push_histograms(h, OK_H)
    t = exc.value.message.split("timestamp: ")[1].split(" ")[0]
    assert exc.value.message == (
        f"received a native histogram sample with too many buckets, timestamp: {t} "
        'series: {__name__="lat", job="a"}, buckets: 4, limit: 3 '
        "(err-mimir-max-native-histogram-buckets)")


def test_bucket_limit_that_cannot_be_reached_and_custom_buckets():
    h = Harness(Limits(max_native_histogram_buckets=1))
    wide = Histogram(schema=-4, count=2, positive_spans=((0, 1), (5, 1)),
                     positive_buckets=(1, 1), integer=True)
    with pytest.raises(PartialValidationError) as exc:
        _push_histograms(h, wide)
    assert "cannot reduce" in exc.value.message
    assert exc.value.message.endswith("(err-mimir-not-reducible-native-histogram)")
    nhcb = Histogram(schema=-53, count=2, positive_spans=((0, 2),), positive_buckets=(1, 1),
                     custom_values=(1.0,), integer=True)
    with pytest.raises(PartialValidationError) as exc:
        _push_histograms(h, nhcb)
    assert exc.value.message.endswith("(err-mimir-native-histogram-custom-buckets-not-reducible)")


def test_disabled_tenant_drops_histograms_and_counts_them():
    h = Harness(Limits(native_histograms_ingestion_enabled=False))
    before = metric_value(m.DISCARDED_SAMPLES,
        "tenant-h", "native_histogram_ingestion_disabled")
    result = _push_histograms(h, OK_H, OK_H)
    assert (result.samples, result.histograms) == (1, 0)
    assert _written_histograms(h) == []
    after = metric_value(m.DISCARDED_SAMPLES,
        "tenant-h", "native_histogram_ingestion_disabled")
    assert after - before == 2


def test_records_split_by_size_keep_histograms_exemplars_and_metadata():
    h = Harness(Limits(max_global_exemplars_per_user=100), partitions=1, max_record_size=2048)
    wr = pb.WriteRequest()
    t = now_ms()
    for i in range(40):
        ts = series(wr, {"__name__": "lat", "i": str(i)}, [(t, float(i))])
        histogram_to_pb(OK_H, t, ts.histograms.add())
        ex = ts.exemplars.add(value=float(i), timestamp=t)
        ex.labels.add(name="trace_id", value=f"t{i}")
    md = wr.metadata.add(metric_family_name="lat", help="latency", unit="seconds")
    md.type = pb.MetricMetadata.HISTOGRAM
    result = h.push("tenant-s", wr.SerializeToString())
    assert result.records > 3
    batches = h.writer.batches()
    assert sum(len(b.histograms) for b in batches) == 40
    assert all(x == OK_H for b in batches for x in b.histograms)
    got = sorted((str(b.labels[i]), e.labels.get("trace_id")) for b in batches
                 for i, e in b.exemplars)
    assert got == sorted((f'lat{{i="{i}"}}', f"t{i}") for i in range(40))
    assert [md for b in batches for md in b.metadata] == [
        MetricMetadata("lat", MetricType.HISTOGRAM, "latency", "seconds")]


def test_old_exemplars_are_dropped_and_counted():
    h = Harness(Limits(max_global_exemplars_per_user=100))
    wr = pb.WriteRequest()
    t = now_ms()
    ts = series(wr, GOOD, [(t, 1.0)])
    for et, trace in ((t, "fresh"), (t - 6 * 60_000, "stale"), (t + 3_600_000, "future")):
        ex = ts.exemplars.add(value=1.0, timestamp=et)
        ex.labels.add(name="trace_id", value=trace)
    old = metric_value(m.DISCARDED_EXEMPLARS, "tenant-x", "exemplar_too_old")
    fut = metric_value(m.DISCARDED_EXEMPLARS, "tenant-x", "exemplar_too_far_in_future")
    assert h.push("tenant-x", wr.SerializeToString()).exemplars == 1
    (b,) = h.writer.batches()
    assert [e.labels.get("trace_id") for _, e in b.exemplars] == ["fresh"]
    assert metric_value(m.DISCARDED_EXEMPLARS, "tenant-x", "exemplar_too_old") == old + 1
    assert metric_value(m.DISCARDED_EXEMPLARS,
        "tenant-x", "exemplar_too_far_in_future") == fut + 1


def test_exemplars_disabled_by_limit_are_counted():
    h = Harness(Limits(max_global_exemplars_per_user=0))
    wr = pb.WriteRequest()
    ts = series(wr, GOOD)
    ex = ts.exemplars.add(value=1.0, timestamp=now_ms())
    ex.labels.add(name="trace_id", value="x")
    before = metric_value(m.DISCARDED_EXEMPLARS, "tenant-d", "exemplars_disabled")
    assert h.push("tenant-d", wr.SerializeToString()).exemplars == 0
    assert metric_value(m.DISCARDED_EXEMPLARS,
        "tenant-d", "exemplars_disabled") == before + 1


def test_rw1_http_push_with_histograms_is_200_and_written():
    h = Harness()
    wr = pb.WriteRequest()
    ts = series(wr, {"__name__": "lat"}, [])
    histogram_to_pb(OK_H, now_ms(), ts.histograms.add())
    r = h.client.post("/api/v1/push", content=snappy_compress(wr.SerializeToString()),
                      headers={"Content-Type": "application/x-protobuf",
                               "Content-Encoding": "snappy"})
    assert r.status_code == 200
    assert [histogram_from_pb(x) for x in ts.histograms] == _written_histograms(h)


def test_rw2_partial_failure_headers_count_only_what_was_written():
    from tidewell.protocol.pb import writev2_pb2 as pb2

    h = Harness()
    req = pb2.Request()
    req.symbols.extend(["", "__name__", "good_h", "bad_h", "trace_id", "t"])
    t = now_ms()
    good = req.timeseries.add()
    good.labels_refs.extend([1, 2])
    good.samples.add(value=1.0, timestamp=t)
    g = good.histograms.add()
    g.MergeFromString(histogram_to_pb(OK_H, t + 1).SerializeToString())
    ex = good.exemplars.add(value=1.0, timestamp=t)
    ex.labels_refs.extend([4, 5])
    bad = req.timeseries.add()
    bad.labels_refs.extend([1, 3])
    b = bad.histograms.add(count_int=5, schema=0, timestamp=t)  # 5 counted, 0 in buckets
    b.positive_spans.add(offset=0, length=1)
    b.positive_deltas.append(0)
    r = h.client.post("/api/v1/push", content=snappy_compress(req.SerializeToString()),
                      headers={"Content-Type":
                               "application/x-protobuf;proto=io.prometheus.write.v2.Request",
                               "Content-Encoding": "snappy"})
    assert r.status_code == 400
    assert "err-mimir-native-histogram-count-mismatch" in r.text and 'bad_h' in r.text
    assert r.headers["X-Prometheus-Remote-Write-Samples-Written"] == "1"
    assert r.headers["X-Prometheus-Remote-Write-Histograms-Written"] == "1"
    assert r.headers["X-Prometheus-Remote-Write-Exemplars-Written"] == "1"
    assert _written_histograms(h) == [OK_H]


def test_otlp_explicit_histograms_become_nhcb_per_tenant_setting():
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as svc
    from opentelemetry.proto.metrics.v1 import metrics_pb2 as mpb

    req = svc.ExportMetricsServiceRequest()
    metric = req.resource_metrics.add().scope_metrics.add().metrics.add()
    metric.name = "size"
    metric.histogram.aggregation_temporality = mpb.AGGREGATION_TEMPORALITY_CUMULATIVE
    dp = metric.histogram.data_points.add(time_unix_nano=now_ms() * 1_000_000, count=3, sum=1.0)
    dp.explicit_bounds.extend([0.5, 1.0])
    dp.bucket_counts.extend([1, 0, 2])
    headers = {"Content-Type": "application/x-protobuf"}
    for convert, want in ((False, []), (True, [Histogram(
            schema=-53, count=3, sum=1.0, positive_spans=((0, 3),), positive_buckets=(1, 0, 2),
            custom_values=(0.5, 1.0), integer=True)])):
        h = Harness(Limits(otel_convert_histograms_to_nhcb=convert))
        r = h.client.post("/otlp/v1/metrics", content=req.SerializeToString(), headers=headers)
        assert r.status_code == 200
        assert _written_histograms(h) == want
        assert (Labels.from_dict({"__name__": "size_bucket", "le": "+Inf"}) in
                h.writer.series()) is not convert


def test_exemplars_per_series_limit_keeps_the_first_and_order_is_fixed():
    h = Harness(Limits(max_exemplars_per_series_per_request=3))
    wr = pb.WriteRequest()
    t = now_ms()
    ts = series(wr, GOOD, [(t, 1.0)])
    for k, et in enumerate((t, t - 2, t - 1, t - 3)):  # the 4th goes over the limit
        ex = ts.exemplars.add(value=float(k), timestamp=et)
        ex.labels.add(name="trace_id", value=f"t{k}")
    before = metric_value(m.DISCARDED_EXEMPLARS,
        "tenant-l", "too_many_exemplars_per_series_per_request")
    assert h.push("tenant-l", wr.SerializeToString()).exemplars == 3
    (b,) = h.writer.batches()
    assert [(e.labels.get("trace_id"), e.timestamp) for _, e in b.exemplars] == [
        ("t1", t - 2), ("t2", t - 1), ("t0", t)]
    assert metric_value(m.DISCARDED_EXEMPLARS,
        "tenant-l", "too_many_exemplars_per_series_per_request") == before + 1


def test_native_histograms_per_tenant_override():
    h = Harness()
    h.overrides.set_tenant_overrides({"no-hist": {"native_histograms_ingestion_enabled": False}})
    wr = pb.WriteRequest()
    ts = series(wr, {"__name__": "lat"}, [])
    histogram_to_pb(OK_H, now_ms(), ts.histograms.add())
    assert h.push("no-hist", wr.SerializeToString()).histograms == 0
    assert h.push("default", wr.SerializeToString()).histograms == 1
    assert _written_histograms(h) == [OK_H]


def test_otlp_points_that_cannot_be_translated_are_a_400_after_the_rest_is_written():
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as svc
    from opentelemetry.proto.metrics.v1 import metrics_pb2 as mpb

    t = now_ms() * 1_000_000
    req = svc.ExportMetricsServiceRequest()
    sm = req.resource_metrics.add().scope_metrics.add()
    gauge = sm.metrics.add(name="kept")
    gauge.gauge.data_points.add(time_unix_nano=t, as_double=1.0)
    delta = sm.metrics.add(name="delta.hits")
    delta.sum.is_monotonic = True
    delta.sum.aggregation_temporality = mpb.AGGREGATION_TEMPORALITY_DELTA
    delta.sum.data_points.add(time_unix_nano=t, as_int=3)
    coarse = sm.metrics.add(name="coarse")
    coarse.exponential_histogram.aggregation_temporality = (
        mpb.AGGREGATION_TEMPORALITY_CUMULATIVE)
    coarse.exponential_histogram.data_points.add(time_unix_nano=t, scale=-5, count=1,
                                                 zero_count=1)
    h = Harness()
    r = h.client.post("/otlp/v1/metrics", content=req.SerializeToString(),
                      headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 400
    assert r.text.splitlines() == [
        'invalid temporality and type combination for metric "delta.hits"',
        "cannot convert exponential to native histogram. Scale must be >= -4, was -5",
    ]
    assert list(h.writer.series()) == [Labels.from_dict({"__name__": "kept"})]


def test_metadata_without_a_name_is_refused_as_mimir():
    h = Harness()
    wr = pb.WriteRequest()
    series(wr, GOOD)
    wr.metadata.add(metric_family_name="", help="nameless")
    wr.metadata.add(metric_family_name="good_metric", help="fine")
    before = metric_value(m.DISCARDED_METADATA, "tenant-m", "missing_metric_name")
    with pytest.raises(PartialValidationError) as exc:
        h.push("tenant-m", wr.SerializeToString())
    assert exc.value.message == (
        "received a metric metadata with no metric name (err-mimir-metadata-missing-metric-name)")
    assert [md.help for b in h.writer.batches() for md in b.metadata] == ["fine"]
    assert metric_value(m.DISCARDED_METADATA,
        "tenant-m", "missing_metric_name") == before + 1


def test_otlp_400_names_both_invalid_series_and_untranslatable_metrics():
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as svc
    from opentelemetry.proto.metrics.v1 import metrics_pb2 as mpb

    t = now_ms() * 1_000_000
    req = svc.ExportMetricsServiceRequest()
    sm = req.resource_metrics.add().scope_metrics.add()
    sm.metrics.add(name="kept").gauge.data_points.add(time_unix_nano=t, as_double=1.0)
    future = sm.metrics.add(name="future")
    future.gauge.data_points.add(time_unix_nano=t + 3600 * 10**9, as_double=1.0)
    delta = sm.metrics.add(name="d")
    delta.sum.aggregation_temporality = mpb.AGGREGATION_TEMPORALITY_DELTA
    delta.sum.data_points.add(time_unix_nano=t, as_int=1)
    h = Harness()
    r = h.client.post("/otlp/v1/metrics", content=req.SerializeToString(),
                      headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 400
    lines = r.text.splitlines()
    assert "err-mimir-too-far-in-future" in lines[0]
    assert lines[1:] == ['invalid temporality and type combination for metric "d"']
    assert list(h.writer.series()) == [Labels.from_dict({"__name__": "kept"})]
