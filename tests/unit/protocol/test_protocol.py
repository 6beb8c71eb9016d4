"""Wire decoders: record values, compression bounds, OTLP naming, and a bounded fuzz."""

from __future__ import annotations

import contextlib
import gzip

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidewell.model import Labels, SampleBatch
from tidewell.protocol import (
    ProtocolError,
    TooLargeError,
    UnsupportedRecordVersionError,
    decode_record_value,
    decompress,
    encode_write_request,
    snappy_compress,
)
from tidewell.protocol.otlp import decode_otlp, otlp_to_write_request
from tidewell.protocol.otlp_names import OTLPNaming
from tidewell.protocol.pb import prompb_pb2 as pb
from tidewell.protocol.pb import writev2_pb2 as pb2
from tidewell.protocol.rw2 import V2_SYMBOL_OFFSET

names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,10}", fullmatch=True)
values = st.text(min_size=1, max_size=12)
label_sets = st.dictionaries(names, values, min_size=1, max_size=6).map(Labels.from_dict)
floats = st.floats(allow_nan=False)


@st.composite
def batches(draw) -> SampleBatch:
    labels = draw(st.lists(label_sets, min_size=1, max_size=8, unique=True))
    n = draw(st.integers(1, 30))
    idx = np.asarray(draw(st.lists(st.integers(0, len(labels) - 1), min_size=n, max_size=n)),
                     dtype=np.int32)
    idx.sort(kind="stable")
    ts = np.asarray(draw(st.lists(st.integers(-2**62, 2**62), min_size=n, max_size=n)),
                    dtype=np.int64)
    vs = np.asarray(draw(st.lists(floats, min_size=n, max_size=n)), dtype=np.float64)
    return SampleBatch(labels=labels, series_index=idx, timestamps=ts, values=vs)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_encode_decode_round_trip(batch):
    got = decode_record_value(encode_write_request(batch), 1)
    used = sorted(set(batch.series_index.tolist()))
    assert [got.labels[i] for i in got.series_index.tolist()] == [
        batch.labels[i] for i in batch.series_index.tolist()
    ]
    assert got.timestamps.tolist() == batch.timestamps.tolist()
    assert got.values.tolist() == batch.values.tolist()
    assert len(got.labels) == len(batch.labels) >= len(used)


def test_record_versions_0_1_2_decode_the_same():
    wr = pb.WriteRequest()
    ts = wr.timeseries.add()
    for n, v in (("__name__", "up"), ("job", "node")):
        lab = ts.labels.add()
        lab.name, lab.value = n, v
    s = ts.samples.add()
    s.value, s.timestamp = 1.5, 1000
    v1 = wr.SerializeToString()
    req = pb2.Request()
    req.symbols.extend(["node"])
    t2 = req.timeseries.add()
    t2.labels_refs.extend([1, V2_SYMBOL_OFFSET + 0, 19, V2_SYMBOL_OFFSET + 0])  # job=node
    t2.labels_refs[1] = V2_SYMBOL_OFFSET + 1
    req.symbols.append("up")
    s2 = t2.samples.add()
    s2.value, s2.timestamp = 1.5, 1000
    for value, version in ((v1, 0), (v1, 1), (req.SerializeToString(), 2)):
        b = decode_record_value(value, version)
        assert b.labels == [Labels.from_dict({"__name__": "up", "job": "node"})]
        assert b.timestamps.tolist() == [1000] and b.values.tolist() == [1.5]
    with pytest.raises(UnsupportedRecordVersionError, match="unsupported version: 3"):
        decode_record_value(v1, 3)


def test_unsorted_labels_in_record_are_sorted():
    wr = pb.WriteRequest()
    ts = wr.timeseries.add()
    for n, v in (("z", "1"), ("__name__", "m"), ("e", "")):
        lab = ts.labels.add()
        lab.name, lab.value = n, v
    ts.samples.add().timestamp = 5
    b = decode_record_value(wr.SerializeToString(), 1)
    assert list(b.labels[0]) == [("__name__", "m"), ("z", "1")]


@pytest.mark.parametrize("bad", [b"\xff", b"\x0a\x05abc", b"\x0b", b"\x0a\x02\x0a\xff",
                                 b"\x00" * 10, b"\x0a\x02\x00\x00"])
def test_malformed_records_raise_protocol_error(bad):
    with pytest.raises(ProtocolError):
        decode_record_value(bad, 1)


def test_decompress_bounds():
    data = b"a" * 100_000
    assert decompress(snappy_compress(data), "snappy", 100_000) == data
    with pytest.raises(TooLargeError):
        decompress(snappy_compress(data), "snappy", 99_999)
    assert decompress(gzip.compress(data), "gzip", 100_000) == data
    with pytest.raises(TooLargeError):
        decompress(gzip.compress(b"\x00" * (50 << 20)), "gzip", 1 << 20)
    with pytest.raises(ProtocolError):
        decompress(b"\x05\x00garbage", "snappy", 1000)
    with pytest.raises(ProtocolError):
        decompress(b"not gzip", "gzip", 1000)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_decoders_never_crash(data):
    for version in (0, 1, 2):
        with contextlib.suppress(ProtocolError):
            decode_record_value(data, version)
    for as_json in (False, True):
        with contextlib.suppress(ProtocolError):
            decode_otlp(data, json=as_json)
    for enc in ("snappy", "gzip"):
        with contextlib.suppress(ProtocolError):
            decompress(data, enc, 1 << 16)


LEGACY_SUFFIXES = OTLPNaming.from_strategy("UnderscoreEscapingWithSuffixes")


def test_otlp_translation_shapes():
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as svc
    from opentelemetry.proto.metrics.v1 import metrics_pb2 as m

    req = svc.ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    for k, v in (("service.name", "api"), ("service.instance.id", "i-1"), ("host.name", "h")):
        a = rm.resource.attributes.add()
        a.key, a.value.string_value = k, v
    sm = rm.scope_metrics.add()
    c = sm.metrics.add()
    c.name = "hits"
    c.sum.is_monotonic = True
    c.sum.aggregation_temporality = m.AGGREGATION_TEMPORALITY_CUMULATIVE
    dp = c.sum.data_points.add()
    dp.time_unix_nano, dp.as_int = 2_000_000_000, 7
    h = sm.metrics.add()
    h.name, h.unit = "latency", "ms"
    h.histogram.aggregation_temporality = m.AGGREGATION_TEMPORALITY_CUMULATIVE
    hp = h.histogram.data_points.add()
    hp.time_unix_nano, hp.count, hp.sum = 2_000_000_000, 3, 4.5
    hp.explicit_bounds.extend([0.5, 1.0])
    hp.bucket_counts.extend([1, 1, 1])
    wr = otlp_to_write_request(req, LEGACY_SUFFIXES)
    got = {
        str(Labels((lab.name, lab.value) for lab in ts.labels)): ts.samples[0].value
        for ts in wr.timeseries
    }
    assert got['hits_total{instance="i-1", job="api"}'] == 7.0
    assert got['latency_milliseconds_bucket{instance="i-1", job="api", le="0.5"}'] == 1.0
    assert got['latency_milliseconds_bucket{instance="i-1", job="api", le="1"}'] == 2.0
    assert got['latency_milliseconds_bucket{instance="i-1", job="api", le="+Inf"}'] == 3.0
    assert got['latency_milliseconds_sum{instance="i-1", job="api"}'] == 4.5
    assert got['latency_milliseconds_count{instance="i-1", job="api"}'] == 3.0
    assert got['target_info{host_name="h", instance="i-1", job="api"}'] == 1.0
    assert all(ts.samples[0].timestamp == 2000 for ts in wr.timeseries)


def test_otlp_exponential_histogram_becomes_native_histogram():
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as svc
    from opentelemetry.proto.metrics.v1 import metrics_pb2 as m

    req = svc.ExportMetricsServiceRequest()
    metric = req.resource_metrics.add().scope_metrics.add().metrics.add()
    metric.name, metric.unit = "rpc.duration", "s"
    eh = metric.exponential_histogram
    eh.aggregation_temporality = m.AGGREGATION_TEMPORALITY_CUMULATIVE
    dp = eh.data_points.add()
    dp.time_unix_nano, dp.count, dp.sum, dp.scale, dp.zero_count = 5_000_000, 6, 3.0, 10, 1
    dp.positive.offset = 3
    dp.positive.bucket_counts.extend([1, 2, 2])  # indices 3,4,5 at scale 10
    (ts,) = otlp_to_write_request(req, LEGACY_SUFFIXES).timeseries
    assert [(lab.name, lab.value) for lab in ts.labels] == [("__name__", "rpc_duration_seconds")]
    (h,) = ts.histograms
    assert (h.schema, h.count_int, h.zero_count_int, h.sum, h.timestamp) == (8, 6, 1, 3.0, 5)
    # Downscaled by 2: indices 3,4,5 -> 0,1,1 -> counts [1, 4] from index 0 (Prometheus: +1).
    assert [(s.offset, s.length) for s in h.positive_spans] == [(1, 2)]
    assert list(h.positive_deltas) == [1, 3]
