"""OTLP name translation: the four strategies, expected values from Prometheus's otlptranslator."""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as svc
from opentelemetry.proto.metrics.v1 import metrics_pb2 as mpb

from tidewell.model import Labels
from tidewell.protocol.otlp import otlp_to_write_request
from tidewell.protocol.otlp_names import OTLPNaming

ESC_SFX = OTLPNaming.from_strategy("UnderscoreEscapingWithSuffixes")
ESC = OTLPNaming.from_strategy("UnderscoreEscapingWithoutSuffixes")
UTF8_SFX = OTLPNaming.from_strategy("NoUTF8EscapingWithSuffixes")
NONE = OTLPNaming.from_strategy("NoTranslation")


@pytest.mark.parametrize(("naming", "name", "unit", "kind", "want"), [
    (ESC_SFX, "http.server.duration", "s", "histogram", "http_server_duration_seconds"),
    (ESC_SFX, "requests", "1", "counter", "requests_total"),
    (ESC_SFX, "requests_total", "", "counter", "requests_total"),
    (ESC_SFX, "cpu.utilization", "1", "gauge", "cpu_utilization_ratio"),
    (ESC_SFX, "mem", "By", "gauge", "mem_bytes"),
    (ESC_SFX, "q", "{request}", "gauge", "q"),
    (ESC_SFX, "throughput", "By/s", "gauge", "throughput_bytes_per_second"),
    (ESC_SFX, "bytes.sent.bytes", "By", "counter", "bytes_sent_bytes_total"),
    (ESC_SFX, "total.requests", "", "counter", "requests_total"),
    (ESC_SFX, "2xx.count", "", "gauge", "_2xx_count"),
    (ESC_SFX, "foo__bar", "", "gauge", "foo_bar"),
    (ESC, "http.server.duration", "s", "histogram", "http_server_duration"),
    (ESC, "requests", "1", "counter", "requests"),
    (ESC, "foo__bar.baz", "", "gauge", "foo__bar_baz"),
    (ESC, "2xx", "", "gauge", "_2xx"),
    (ESC, "...", "", "gauge", ""),
    (UTF8_SFX, "http.server.duration", "s", "histogram", "http.server.duration_seconds"),
    (UTF8_SFX, "requests", "", "counter", "requests_total"),
    (UTF8_SFX, "requests.total", "", "counter", "requests_total"),
    (UTF8_SFX, "cpu.utilization", "1", "gauge", "cpu.utilization_ratio"),
    (UTF8_SFX, "throughput", "By/s", "gauge", "throughput_bytes_per_second"),
    (NONE, "http.server.duration", "s", "histogram", "http.server.duration"),
    (NONE, "requests", "1", "counter", "requests"),
    (NONE, "my metric ü", "", "gauge", "my metric ü"),
])
def test_metric_names(naming: OTLPNaming, name: str, unit: str, kind: str, want: str) -> None:
    assert naming.metric_name(name, unit, kind) == want


@pytest.mark.parametrize(("key", "escaped"), [
    ("http.method", "http_method"),
    ("123invalid", "key_123invalid"),
    ("_private", "key_private"),
    ("__reserved__", "__reserved__"),
    ("a-b c", "a_b_c"),
    ("...", ""),
])
def test_label_names(key: str, escaped: str) -> None:
    assert ESC.label_name(key) == escaped
    assert ESC_SFX.label_name(key) == escaped
    assert NONE.label_name(key) == key
    assert UTF8_SFX.label_name(key) == key


def test_unknown_strategy_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported OTLP translation strategy"):
        OTLPNaming.from_strategy("Underscores")


def _request() -> svc.ExportMetricsServiceRequest:
    req = svc.ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    for k, v in (("service.name", "api"), ("service.instance.id", "i-1"), ("host.name", "h")):
        a = rm.resource.attributes.add()
        a.key, a.value.string_value = k, v
    sm = rm.scope_metrics.add()
    c = sm.metrics.add()
    c.name, c.unit = "http.server.request.count", "{request}"
    c.sum.is_monotonic = True
    c.sum.aggregation_temporality = mpb.AGGREGATION_TEMPORALITY_CUMULATIVE
    dp = c.sum.data_points.add()
    dp.time_unix_nano, dp.as_int = 2_000_000_000, 7
    a = dp.attributes.add()
    a.key, a.value.string_value = "http.route", "/x"
    h = sm.metrics.add()
    h.name, h.unit = "http.server.duration", "s"
    h.histogram.aggregation_temporality = mpb.AGGREGATION_TEMPORALITY_CUMULATIVE
    hp = h.histogram.data_points.add()
    hp.time_unix_nano, hp.count, hp.sum = 2_000_000_000, 2, 1.5
    hp.explicit_bounds.extend([0.5])
    hp.bucket_counts.extend([1, 1])
    return req


def _series(naming: OTLPNaming | None) -> dict[Labels, float]:
    wr = otlp_to_write_request(_request(), naming)
    return {Labels((lab.name, lab.value) for lab in ts.labels): ts.samples[0].value
            for ts in wr.timeseries}


def test_default_keeps_utf8_names_as_sent() -> None:
    got = _series(None)
    base = {"job": "api", "instance": "i-1"}
    assert got[Labels.from_dict({**base, "__name__": "http.server.request.count",
                                 "http.route": "/x"})] == 7.0
    assert got[Labels.from_dict({**base, "__name__": "http.server.duration_bucket",
                                 "le": "0.5"})] == 1.0
    assert got[Labels.from_dict({**base, "__name__": "http.server.duration_count"})] == 2.0
    assert got[Labels.from_dict({**base, "__name__": "target_info", "host.name": "h"})] == 1.0
    assert len(got) == 6  # count, 2 buckets, _sum, _count, target_info


def test_legacy_escaping_without_suffixes() -> None:
    got = _series(ESC)
    base = {"job": "api", "instance": "i-1"}
    assert got[Labels.from_dict({**base, "__name__": "http_server_request_count",
                                 "http_route": "/x"})] == 7.0
    assert got[Labels.from_dict({**base, "__name__": "http_server_duration_sum"})] == 1.5
    assert got[Labels.from_dict({**base, "__name__": "target_info", "host_name": "h"})] == 1.0
