"""Status codes and wire handling of the push endpoints."""

from __future__ import annotations

import gzip

from tests.unit.distributor.helpers import Harness, now_ms, request, series
from tidewell.distributor import DistributorConfig, Limits
from tidewell.model import Labels
from tidewell.protocol import snappy_compress
from tidewell.protocol.pb import prompb_pb2 as pb
from tidewell.protocol.pb import writev2_pb2 as pb2

RW1 = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
       "X-Prometheus-Remote-Write-Version": "0.1.0", "X-Scope-OrgID": "team-a"}
RW2 = {**RW1, "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request",
       "X-Prometheus-Remote-Write-Version": "2.0.0"}


def test_rw1_push_is_acknowledged_after_the_log(harness: Harness):
    raw = request({"__name__": "up", "job": "a"}, {"__name__": "up", "job": "b"})
    r = harness.client.post("/api/v1/push", content=snappy_compress(raw), headers=RW1)
    assert r.status_code == 200
    assert set(harness.writer.series()) == {
        Labels.from_dict({"__name__": "up", "job": "a"}),
        Labels.from_dict({"__name__": "up", "job": "b"}),
    }
    assert all(rec.key == b"team-a" and rec.version == 1 for rec in harness.writer.records)


def test_partial_failure_is_400_and_valid_series_are_written(harness: Harness):
    raw = request({"__name__": "up"}, {"job": "nameless"})
    r = harness.client.post("/api/v1/push", content=snappy_compress(raw), headers=RW1)
    assert r.status_code == 400
    assert "err-mimir-missing-metric-name" in r.text
    assert Labels.from_dict({"__name__": "up"}) in harness.writer.series()


def test_garbage_truncated_and_bad_snappy_are_400(harness: Harness):
    raw = request({"__name__": "up"})
    for body in (
        snappy_compress(b"\xff\xff\xff\xff garbage"),
        snappy_compress(raw[:-3]),
        snappy_compress(b"\x00" * 10),  # field number 0: illegal protobuf, not an empty request
        b"\x10not-snappy-at-all",
        b"",
    ):
        r = harness.client.post("/api/v1/push", content=body, headers=RW1)
        assert r.status_code == 400 or (body == b"" and r.status_code == 400), body
    assert harness.writer.records == []
    # Process still healthy: a good push right after works.
    assert harness.client.post("/api/v1/push", content=snappy_compress(raw),
                               headers=RW1).status_code == 200


def test_snappy_bomb_rejected_before_decompressing():
    h = Harness(config=DistributorConfig(max_recv_msg_size=1 << 20))
    bomb = snappy_compress(b"\x00" * (4 << 20))  # ~200 KB body announcing 4 MiB
    assert len(bomb) < (1 << 20)
    r = h.client.post("/api/v1/push", content=bomb, headers=RW1)
    assert r.status_code == 413
    # A header claiming 2^62 bytes is refused without trying.
    huge = bytes([0x80] * 8 + [0x40]) + b"\x00" * 10
    assert h.client.post("/api/v1/push", content=huge, headers=RW1).status_code == 413


def test_body_over_limit_is_413():
    h = Harness(config=DistributorConfig(max_recv_msg_size=1000))
    r = h.client.post("/api/v1/push", content=b"x" * 5000, headers=RW1)
    assert r.status_code == 413
    assert "-distributor.max-recv-msg-size" in r.text


def test_unsupported_content_type_and_encoding_are_415(harness: Harness):
    raw = snappy_compress(request({"__name__": "up"}))
    r = harness.client.post("/api/v1/push", content=raw,
                            headers={**RW1, "Content-Type": "application/json"})
    assert r.status_code == 415
    r = harness.client.post("/api/v1/push", content=raw,
                            headers={**RW1, "Content-Type": "application/x-protobuf;proto=foo.Bar"})
    assert r.status_code == 415
    r = harness.client.post("/api/v1/push", content=raw,
                            headers={**RW1, "Content-Encoding": "zstd"})
    assert r.status_code == 415
    assert "zstd encoding (compression) is not accepted by this server; only snappy is " \
        "acceptable" in r.text
    r = harness.client.post("/api/v1/push", content=raw, headers={**RW2, "Content-Encoding": "lz4"})
    assert r.status_code == 415 and "lz4 encoding" in r.text
    assert r.headers["X-Prometheus-Remote-Write-Samples-Written"] == "0"
    assert harness.writer.series() == {}


def test_absent_content_encoding_means_snappy(harness: Harness):
    raw = snappy_compress(request({"__name__": "up"}))
    headers = {k: v for k, v in RW1.items() if k != "Content-Encoding"}
    assert harness.client.post("/api/v1/push", content=raw, headers=headers).status_code == 200
    assert Labels.from_dict({"__name__": "up"}) in harness.writer.series()


def test_utf8_names_through_push_and_legacy_tenant_override(harness: Harness):
    names = {"__name__": "http.server.duration", "le": "0.1", "service.name": "shop"}
    raw = snappy_compress(request(names))
    r = harness.client.post("/api/v1/push", content=raw, headers=RW1)
    assert r.status_code == 200
    assert Labels.from_dict(names) in harness.writer.series()
    harness.overrides.set_tenant_overrides({"old": {"name_validation_scheme": "legacy"}})
    r = harness.client.post("/api/v1/push", content=raw, headers={**RW1, "X-Scope-OrgID": "old"})
    assert r.status_code == 400
    assert r.text == ("received a series with invalid metric name: "
                      "'http.server.duration' (err-mimir-metric-name-invalid)\n")


def test_gzip_encoding_accepted(harness: Harness):
    raw = gzip.compress(request({"__name__": "up"}))
    r = harness.client.post("/api/v1/push", content=raw,
                            headers={**RW1, "Content-Encoding": "gzip"})
    assert r.status_code == 200


def test_rate_limited_is_429():
    h = Harness(Limits(ingestion_rate=1, ingestion_burst_size=3))
    ok = request(*[{"__name__": "m", "i": str(i)} for i in range(3)])
    r = h.client.post("/api/v1/push", content=snappy_compress(ok), headers=RW1)
    assert r.status_code == 200
    r = h.client.post("/api/v1/push", content=snappy_compress(ok), headers=RW1)
    assert r.status_code == 429
    assert "err-mimir-tenant-max-ingestion-rate" in r.text
    assert len(h.writer.series()) == 3


def test_log_unavailable_is_5xx(harness: Harness):
    harness.writer.fail = True
    r = harness.client.post("/api/v1/push", content=snappy_compress(request({"__name__": "up"})),
                            headers=RW1)
    assert r.status_code == 500


def test_no_active_partition_is_5xx():
    from tests.unit.distributor.helpers import make_ring

    h = Harness()
    h.distributor.ring = make_ring(2, active=[])
    r = h.client.post("/api/v1/push", content=snappy_compress(request({"__name__": "up"})),
                      headers=RW1)
    assert r.status_code == 500


def test_missing_tenant_is_401():
    h = Harness()
    from starlette.applications import Starlette

    from tests.unit.distributor.helpers import SyncClient
    from tidewell.distributor import push_routes

    c = SyncClient(Starlette(routes=push_routes(h.distributor)))
    assert c.post("/api/v1/push", content=b"", headers=RW1).status_code == 401


def _rw2_request() -> bytes:
    req = pb2.Request()
    req.symbols.extend(["", "__name__", "http_requests_total", "job", "api", "help text", "le"])
    t = now_ms()
    ts = req.timeseries.add()
    ts.labels_refs.extend([1, 2, 3, 4])
    for i in range(3):
        s = ts.samples.add()
        s.value = float(i)
        s.timestamp = t + i
    ex = ts.exemplars.add()
    ex.labels_refs.extend([3, 4])
    ex.value = 1.0
    ex.timestamp = t
    ts.metadata.type = pb2.Metadata.METRIC_TYPE_COUNTER
    ts.metadata.help_ref = 5
    hs = req.timeseries.add()
    hs.labels_refs.extend([1, 6 - 4 + 0, 3, 4])  # __name__=http_requests_total again
    h = hs.histograms.add()
    h.count_int = 3
    h.zero_count_int = 3
    h.sum = 2.0
    h.schema = 0
    h.timestamp = t
    return req.SerializeToString()


def test_rw2_written_headers_are_exact():
    h = Harness(Limits(max_global_exemplars_per_user=100, native_histograms_ingestion_enabled=True))
    r = h.client.post("/api/v1/push", content=snappy_compress(_rw2_request()), headers=RW2)
    assert r.status_code == 204
    assert r.headers["X-Prometheus-Remote-Write-Samples-Written"] == "3"
    assert r.headers["X-Prometheus-Remote-Write-Histograms-Written"] == "1"
    assert r.headers["X-Prometheus-Remote-Write-Exemplars-Written"] == "1"
    got = h.writer.series()
    assert len(got[Labels.from_dict({"__name__": "http_requests_total", "job": "api"})]) == 3


def test_rw2_exemplars_dropped_when_disabled_and_headers_say_so():
    harness = Harness(Limits(max_global_exemplars_per_user=0))
    r = harness.client.post("/api/v1/push", content=snappy_compress(_rw2_request()), headers=RW2)
    assert r.status_code == 204
    assert r.headers["X-Prometheus-Remote-Write-Exemplars-Written"] == "0"


def test_rw2_utf8_names_are_written(harness: Harness):
    req = pb2.Request()
    req.symbols.extend(["", "__name__", "http.server.duration", "service.name", "shop", "le",
                        "0.1"])
    ts = req.timeseries.add()
    ts.labels_refs.extend([1, 2, 5, 6, 3, 4])
    s = ts.samples.add()
    s.value, s.timestamp = 2.0, now_ms()
    r = harness.client.post("/api/v1/push", content=snappy_compress(req.SerializeToString()),
                            headers=RW2)
    assert r.status_code == 204, r.text
    assert r.headers["X-Prometheus-Remote-Write-Samples-Written"] == "1"
    want = Labels.from_dict({"__name__": "http.server.duration", "le": "0.1",
                             "service.name": "shop"})
    assert [v for _, v in harness.writer.series()[want]] == [2.0]


def test_rw2_bad_symbol_ref_is_400_with_zero_headers(harness: Harness):
    req = pb2.Request()
    req.symbols.extend(["", "__name__"])
    req.timeseries.add().labels_refs.extend([1, 99])
    r = harness.client.post("/api/v1/push", content=snappy_compress(req.SerializeToString()),
                            headers=RW2)
    assert r.status_code == 400
    assert r.headers["X-Prometheus-Remote-Write-Samples-Written"] == "0"


def test_ten_megabyte_label_value_and_ten_thousand_labels_are_400(harness: Harness):
    wr = pb.WriteRequest()
    series(wr, {"__name__": "ok"})
    series(wr, {"__name__": "big", "v": "x" * (10 << 20)})
    series(wr, {"__name__": "many", **{f"l{i}": "v" for i in range(10_000)}})
    r = harness.client.post("/api/v1/push", content=snappy_compress(wr.SerializeToString()),
                            headers=RW1)
    assert r.status_code == 400
    assert "err-mimir-label-value-too-long" in r.text
    assert "err-mimir-max-label-names-per-series" in r.text
    assert list(harness.writer.series()) == [Labels.from_dict({"__name__": "ok"})]


def test_metadata_goes_to_the_log(harness: Harness):
    wr = pb.WriteRequest()
    series(wr, {"__name__": "up"})
    md = wr.metadata.add()
    md.type = pb.MetricMetadata.GAUGE
    md.metric_family_name = "up"
    md.help = "is it up"
    harness.client.post("/api/v1/push", content=snappy_compress(wr.SerializeToString()),
                        headers=RW1)
    metas = [
        m for r in harness.writer.records
        for m in pb.WriteRequest.FromString(r.value).metadata
    ]
    assert [(m.metric_family_name, m.help) for m in metas] == [("up", "is it up")]


def _otlp_request():
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as svc

    req = svc.ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    a = rm.resource.attributes.add()
    a.key, a.value.string_value = "service.name", "svc"
    g = rm.scope_metrics.add().metrics.add()
    g.name, g.unit = "queue.depth", "{item}"
    dp = g.gauge.data_points.add()
    dp.time_unix_nano, dp.as_double = now_ms() * 1_000_000, 4.0
    return req


def test_otlp_protobuf_json_gzip(harness: Harness):
    from google.protobuf import json_format

    req = _otlp_request()
    want = Labels.from_dict({"__name__": "queue.depth", "job": "svc"})
    r = harness.client.post("/otlp/v1/metrics", content=req.SerializeToString(),
                            headers={"Content-Type": "application/x-protobuf"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
    body = json_format.MessageToJson(req).encode()
    r = harness.client.post("/otlp/v1/metrics", content=gzip.compress(body),
                            headers={"Content-Type": "application/json",
                                     "Content-Encoding": "gzip"})
    assert r.status_code == 200 and r.json() == {}
    assert len(harness.writer.series()[want]) == 2


def test_otlp_translation_follows_tenant_limits():
    h = Harness()
    h.overrides.set_tenant_overrides({
        "legacy": {"name_validation_scheme": "legacy"},
        "suffixed": {"otel_metric_suffixes_enabled": True},
        "classic": {"name_validation_scheme": "legacy",
                    "otel_translation_strategy": "UnderscoreEscapingWithSuffixes"},
    })
    body = _otlp_request()
    g = body.resource_metrics[0].scope_metrics[0].metrics[0]
    g.unit = "By"
    a = g.gauge.data_points[0].attributes.add()
    a.key, a.value.string_value = "queue.kind", "fifo"
    for tenant, name, label in (
        ("anonymous", "queue.depth", "queue.kind"),
        ("legacy", "queue_depth", "queue_kind"),
        ("suffixed", "queue.depth_bytes", "queue.kind"),
        ("classic", "queue_depth_bytes", "queue_kind"),
    ):
        r = h.client.post("/otlp/v1/metrics", content=body.SerializeToString(),
                          headers={"Content-Type": "application/x-protobuf",
                                   "X-Scope-OrgID": tenant})
        assert r.status_code == 200, r.text
        want = Labels.from_dict({"__name__": name, "job": "svc", label: "fifo"})
        assert want in h.writer.series(), tenant


def test_otlp_bad_inputs(harness: Harness):
    body = _otlp_request().SerializeToString()
    assert harness.client.post("/otlp/v1/metrics", content=body,
                               headers={"Content-Type": "text/plain"}).status_code == 415
    assert harness.client.post("/otlp/v1/metrics", content=body,
                               headers={"Content-Type": "application/x-protobuf",
                                        "Content-Encoding": "br"}).status_code == 415
    assert harness.client.post("/otlp/v1/metrics", content=b"\xff\xff garbage",
                               headers={"Content-Type": "application/x-protobuf"}
                               ).status_code == 400
    assert harness.client.post("/otlp/v1/metrics", content=b"{not json",
                               headers={"Content-Type": "application/json"}).status_code == 400


def test_rw2_partial_failure_headers_count_only_written(harness: Harness):
    req = pb2.Request()
    req.symbols.extend(["", "__name__", "good", "job", "x"])
    t = now_ms()
    ok = req.timeseries.add()
    ok.labels_refs.extend([1, 2])
    for i in range(2):
        s = ok.samples.add()
        s.value, s.timestamp = 1.0, t + i
    bad = req.timeseries.add()
    bad.labels_refs.extend([3, 4])  # no metric name
    s = bad.samples.add()
    s.value, s.timestamp = 1.0, t
    r = harness.client.post("/api/v1/push", content=snappy_compress(req.SerializeToString()),
                            headers=RW2)
    assert r.status_code == 400
    assert "err-mimir-missing-metric-name" in r.text
    assert r.headers["X-Prometheus-Remote-Write-Samples-Written"] == "2"
    assert r.headers["X-Prometheus-Remote-Write-Histograms-Written"] == "0"
