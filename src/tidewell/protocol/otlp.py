"""OTLP metrics to Prometheus series, named the way Prometheus/Mimir name them.

Names follow the tenant's translation strategy (``otlp_names``): by default, as
in Mimir with UTF-8 names, ``NoTranslation`` keeps ``http.server.duration`` and
its attribute keys as sent. Explicit-bucket histograms become
``_bucket{le}``/``_sum``/``_count``, summaries become ``{quantile}``/``_sum``/``_count``.
Resource ``service.namespace``/``service.name`` become ``job`` and
``service.instance.id`` becomes ``instance``; the other resource attributes go
to a ``target_info`` series. Cumulative exponential histograms become native
histograms (scale → schema, downscaled to 8 if finer; buckets shifted by one,
as Prometheus indexes them). What cannot be translated (delta temporality, as
Prometheus without extra feature flags; exponential scales below -4) is named
in ``errors``: the handler writes the rest, then answers 400 (as Mimir).
Exemplars of sums and exponential histograms go with their series; those of
explicit-bucket histograms with the first ``_bucket`` series whose ``le`` holds
the exemplar's value (as Prometheus).
"""

from __future__ import annotations

import json as jsonlib

import numpy as np
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as svc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2 as mpb

from tidewell.model import CUSTOM_BUCKETS_SCHEMA, stale_nan
from tidewell.protocol.errors import ProtocolError
from tidewell.protocol.otlp_names import OTLPNaming
from tidewell.protocol.pb import prompb_pb2 as pb
from tidewell.protocol.pieces import parse_in_pieces

__all__ = ["SERIES_BATCH", "decode_otlp", "decode_otlp_bytes", "empty_response",
           "otlp_to_write_request"]

SERIES_BATCH = 1000
"""Series per ``SerializeToString`` call: ~0.3 MB typically, 3 MB of 3 kB label values."""

_CUMULATIVE = mpb.AGGREGATION_TEMPORALITY_CUMULATIVE
_NO_RECORDED_VALUE = 1  # DataPointFlags.FLAG_NO_RECORDED_VALUE

def _any_value(v: common_pb2.AnyValue) -> str:
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return v.string_value
    if kind == "bool_value":
        return "true" if v.bool_value else "false"
    if kind == "int_value":
        return str(v.int_value)
    if kind == "double_value":
        return _fmt(v.double_value)
    if kind == "bytes_value":
        return v.bytes_value.hex()
    if kind == "array_value":
        return "[" + ",".join(repr(_any_value(x)) for x in v.array_value.values) + "]"
    if kind == "kvlist_value":
        return "{" + ",".join(f"{kv.key}:{_any_value(kv.value)}" for kv in
                              v.kvlist_value.values) + "}"
    return ""


def _fmt(v: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)`` as used for ``le``/``quantile``."""
    if v == float("inf"):
        return "+Inf"
    if v == float("-inf"):
        return "-Inf"
    if v != v:
        return "NaN"
    return np.format_float_positional(v, trim="-")


def _attrs(kvs, naming: OTLPNaming, skip: tuple[str, ...] = ()) -> dict[str, str]:
    out: dict[str, str] = {}
    for kv in kvs:
        if kv.key in skip:
            continue
        name = naming.label_name(kv.key)
        value = _any_value(kv.value)
        out[name] = f"{out[name]};{value}" if name in out else value
    return out


class _Builder:
    """The RW 1.0 request under construction. With ``batch``, every ``batch`` series
    (or metadata entries) are serialised and a fresh message started: a
    ``WriteRequest`` is the concatenation of its fields, and one ``SerializeToString``
    of a 50 MB request would hold the GIL for its whole length."""

    def __init__(self, errors: list[str], batch: int | None = None) -> None:
        self.wr = pb.WriteRequest()
        self.md = pb.WriteRequest()
        self.meta_seen: set[str] = set()
        self.errors = errors
        """What could not be translated: the caller answers 400 after writing the rest."""
        self.batch = batch
        self.series_out: list[bytes] = []
        self.meta_out: list[bytes] = []

    def point(self) -> None:
        """Between data points (no series is touched again): serialise a full batch."""
        if self.batch is not None and len(self.wr.timeseries) >= self.batch:
            self.series_out.append(self.wr.SerializeToString())
            self.wr = pb.WriteRequest()

    def request(self) -> pb.WriteRequest:
        """The whole request as one message (without ``batch``)."""
        self.wr.metadata.extend(self.md.metadata)
        return self.wr

    def serialized(self) -> memoryview:
        """The request's bytes: the series batches, then the metadata (field order).
        Copied batch by batch into one buffer: ``b"".join`` would copy (and fault in)
        the whole request in one call holding the GIL."""
        parts = [*self.series_out, self.wr.SerializeToString(), *self.meta_out,
                 self.md.SerializeToString()]
        self.series_out, self.meta_out = [], []
        out = np.empty(sum(len(p) for p in parts), dtype=np.uint8)
        at = 0
        for i, part in enumerate(parts):
            out[at:at + len(part)] = np.frombuffer(part, dtype=np.uint8)
            at += len(part)
            parts[i] = b""  # freed as it goes
        return memoryview(out)

    def invalid_temporality(self, name: str) -> None:
        quoted = jsonlib.dumps(name, ensure_ascii=False)  # Go's %q
        self.errors.append(f"invalid temporality and type combination for metric {quoted}")

    def series(self, labels: dict[str, str], ts_ms: int, value: float) -> pb.TimeSeries:
        ts = self.wr.timeseries.add()
        for n in sorted(labels):
            if labels[n] == "":
                continue
            lab = ts.labels.add()
            lab.name = n
            lab.value = labels[n]
        s = ts.samples.add()
        s.value = value
        s.timestamp = ts_ms
        return ts

    def histogram(self, labels: dict[str, str], h: pb.Histogram) -> pb.TimeSeries:
        ts = self.wr.timeseries.add()
        for n in sorted(labels):
            if labels[n] == "":
                continue
            lab = ts.labels.add()
            lab.name = n
            lab.value = labels[n]
        ts.histograms.append(h)
        return ts

    def metadata(self, name: str, mtype: int, help_: str, unit: str) -> None:
        if name in self.meta_seen:
            return
        self.meta_seen.add(name)
        md = self.md.metadata.add()
        md.type = mtype
        md.metric_family_name = name
        md.help = help_
        md.unit = unit
        if self.batch is not None and len(self.md.metadata) >= self.batch:
            self.meta_out.append(self.md.SerializeToString())
            self.md = pb.WriteRequest()


def _exemplar(e: mpb.Exemplar, out: pb.Exemplar) -> None:
    """OTLP exemplar → RW exemplar as Prometheus translates it: ``trace_id`` and
    ``span_id`` in hex when set, then the filtered attributes."""
    for name, raw in (("trace_id", e.trace_id), ("span_id", e.span_id)):
        if raw:
            lab = out.labels.add()
            lab.name, lab.value = name, raw.hex()
    for kv in e.filtered_attributes:
        lab = out.labels.add()
        lab.name, lab.value = kv.key, _any_value(kv.value)
    out.value = _exemplar_value(e)
    out.timestamp = e.time_unix_nano // 1_000_000


def _exemplar_value(e: mpb.Exemplar) -> float:
    return float(e.as_int) if e.WhichOneof("value") == "as_int" else e.as_double


def _add_exemplars(ts: pb.TimeSeries, exemplars) -> None:
    for e in exemplars:
        _exemplar(e, ts.exemplars.add())


def _value(dp) -> float:
    if dp.flags & _NO_RECORDED_VALUE:
        return stale_nan()
    return float(dp.as_int) if dp.WhichOneof("value") == "as_int" else dp.as_double


def _downscale(offset: int, counts: list[int], by: int) -> tuple[int, list[int]]:
    """Merge buckets 2^by at a time (OTel index i at scale s is index i >> by at s - by)."""
    if by <= 0 or not counts:
        return offset, counts
    new_offset = offset >> by
    out: list[int] = []
    for i, c in enumerate(counts):
        j = ((offset + i) >> by) - new_offset
        while len(out) <= j:
            out.append(0)
        out[j] += c
    return new_offset, out


def _spans_deltas(offset: int, counts: list[int], span, deltas) -> None:
    """One span over all buckets; Prometheus bucket index = OTel index + 1."""
    if not counts:
        return
    s = span.add()
    s.offset = offset + 1
    s.length = len(counts)
    prev = 0
    for c in counts:
        deltas.append(c - prev)
        prev = c


def _exponential(dp, ts_ms: int) -> pb.Histogram | None:
    scale = dp.scale
    if scale < -4:
        return None
    by = max(0, scale - 8)
    h = pb.Histogram()
    h.schema = scale - by
    h.zero_threshold = dp.zero_threshold
    h.zero_count_int = dp.zero_count
    h.count_int = dp.count
    h.sum = dp.sum if dp.HasField("sum") else 0.0
    if dp.flags & _NO_RECORDED_VALUE:
        h.sum = stale_nan()
    h.timestamp = ts_ms
    off, counts = _downscale(dp.positive.offset, list(dp.positive.bucket_counts), by)
    _spans_deltas(off, counts, h.positive_spans, h.positive_deltas)
    off, counts = _downscale(dp.negative.offset, list(dp.negative.bucket_counts), by)
    _spans_deltas(off, counts, h.negative_spans, h.negative_deltas)
    return h


def _sparse_layout(counts: list[int], span, deltas) -> None:
    """Non-empty buckets as spans and deltas; gaps of up to two empty buckets are filled
    rather than starting a span (client_golang's rule, as Prometheus's translator)."""
    last = None
    prev = 0
    for i, c in enumerate(counts):
        if c == 0:
            continue
        if last is None:
            span.add(offset=i, length=0)
        elif i - last - 1 > 2:
            span.add(offset=i - last - 1, length=0)
        else:
            for _ in range(i - last - 1):
                span[-1].length += 1
                deltas.append(-prev)
                prev = 0
        span[-1].length += 1
        deltas.append(c - prev)
        prev = c
        last = i


def _custom_buckets(dp, ts_ms: int) -> pb.Histogram:
    """An explicit-bucket point as a native histogram with custom buckets (NHCB): the
    bounds become ``custom_values`` (the +Inf bucket is implicit in both)."""
    h = pb.Histogram(schema=CUSTOM_BUCKETS_SCHEMA, timestamp=ts_ms)
    h.custom_values.extend(dp.explicit_bounds)
    if dp.flags & _NO_RECORDED_VALUE:
        h.sum = stale_nan()  # a histogram stale marker is its sum (count 0)
    else:
        h.sum = dp.sum if dp.HasField("sum") else 0.0
        h.count_int = dp.count
    _sparse_layout(list(dp.bucket_counts), h.positive_spans, h.positive_deltas)
    return h


_IDENTIFYING = ("service.name", "service.namespace", "service.instance.id")


def otlp_to_write_request(
    req: svc.ExportMetricsServiceRequest, naming: OTLPNaming | None = None, *,
    convert_histograms_to_nhcb: bool = False, errors: list[str] | None = None,
) -> pb.WriteRequest:
    """Translate an OTLP export request into one RW 1.0 ``WriteRequest``.

    ``naming`` defaults to ``NoTranslation`` (Mimir's choice under UTF-8 names).
    ``convert_histograms_to_nhcb``: explicit-bucket histograms become native
    histograms with custom buckets instead of classic series (Mimir's
    ``-distributor.otel-convert-histograms-to-nhcb``). Metrics that cannot be
    translated are left out and described in ``errors`` (when given).
    """
    b = _Builder(errors if errors is not None else [])
    _convert(req, naming or OTLPNaming(), convert_histograms_to_nhcb, b)
    return b.request()


def _convert(req: svc.ExportMetricsServiceRequest, naming: OTLPNaming,
             convert_histograms_to_nhcb: bool, b: _Builder) -> None:
    MT = pb.MetricMetadata
    for rm in req.resource_metrics:
        raw_res = {kv.key: _any_value(kv.value) for kv in rm.resource.attributes}
        service = raw_res.get("service.name", "")
        ns = raw_res.get("service.namespace", "")
        base: dict[str, str] = {}
        if service:
            base["job"] = f"{ns}/{service}" if ns else service
        if raw_res.get("service.instance.id"):
            base["instance"] = raw_res["service.instance.id"]
        latest = 0
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                if kind == "gauge" or (kind == "sum" and not metric.sum.is_monotonic):
                    pts = metric.gauge.data_points if kind == "gauge" else metric.sum.data_points
                    if kind == "sum" and metric.sum.aggregation_temporality != _CUMULATIVE:
                        b.invalid_temporality(metric.name)
                        continue
                    name = naming.metric_name(metric.name, metric.unit, "gauge")
                    b.metadata(name, MT.GAUGE, metric.description, metric.unit)
                    for dp in pts:
                        b.point()
                        t = dp.time_unix_nano // 1_000_000
                        latest = max(latest, t)
                        labels = {**_attrs(dp.attributes, naming), **base, "__name__": name}
                        b.series(labels, t, _value(dp))
                elif kind == "sum":
                    if metric.sum.aggregation_temporality != _CUMULATIVE:
                        b.invalid_temporality(metric.name)
                        continue
                    name = naming.metric_name(metric.name, metric.unit, "counter")
                    b.metadata(name, MT.COUNTER, metric.description, metric.unit)
                    for dp in metric.sum.data_points:
                        b.point()
                        t = dp.time_unix_nano // 1_000_000
                        latest = max(latest, t)
                        labels = {**_attrs(dp.attributes, naming), **base, "__name__": name}
                        _add_exemplars(b.series(labels, t, _value(dp)), dp.exemplars)
                elif kind == "histogram":
                    if metric.histogram.aggregation_temporality != _CUMULATIVE:
                        b.invalid_temporality(metric.name)
                        continue
                    name = naming.metric_name(metric.name, metric.unit, "histogram")
                    b.metadata(name, MT.HISTOGRAM, metric.description, metric.unit)
                    for dp in metric.histogram.data_points:
                        b.point()
                        t = dp.time_unix_nano // 1_000_000
                        latest = max(latest, t)
                        labels = {**_attrs(dp.attributes, naming), **base}
                        if convert_histograms_to_nhcb:
                            ts = b.histogram({**labels, "__name__": name}, _custom_buckets(dp, t))
                            _add_exemplars(ts, dp.exemplars)
                            continue
                        stale = bool(dp.flags & _NO_RECORDED_VALUE)
                        sn = stale_nan()
                        if dp.HasField("sum"):
                            b.series({**labels, "__name__": name + "_sum"}, t,
                                     sn if stale else dp.sum)
                        b.series({**labels, "__name__": name + "_count"}, t,
                                 sn if stale else float(dp.count))
                        cum = 0
                        buckets = []
                        for i, bound in enumerate(dp.explicit_bounds):
                            if i < len(dp.bucket_counts):
                                cum += dp.bucket_counts[i]
                            buckets.append((bound, b.series(
                                {**labels, "__name__": name + "_bucket", "le": _fmt(bound)},
                                t, sn if stale else float(cum))))
                        buckets.append((float("inf"), b.series(
                            {**labels, "__name__": name + "_bucket", "le": "+Inf"}, t,
                            sn if stale else float(dp.count))))
                        # Each exemplar goes to the first bucket whose bound holds its value.
                        for e in dp.exemplars:
                            v = _exemplar_value(e)
                            target = next((ts for bound, ts in buckets if v <= bound),
                                          buckets[-1][1])
                            _exemplar(e, target.exemplars.add())
                elif kind == "summary":
                    name = naming.metric_name(metric.name, metric.unit, "summary")
                    b.metadata(name, MT.SUMMARY, metric.description, metric.unit)
                    for dp in metric.summary.data_points:
                        b.point()
                        t = dp.time_unix_nano // 1_000_000
                        latest = max(latest, t)
                        labels = {**_attrs(dp.attributes, naming), **base}
                        stale = bool(dp.flags & _NO_RECORDED_VALUE)
                        sn = stale_nan()
                        b.series({**labels, "__name__": name + "_sum"}, t, sn if stale else dp.sum)
                        b.series({**labels, "__name__": name + "_count"}, t,
                                 sn if stale else float(dp.count))
                        for q in dp.quantile_values:
                            b.series({**labels, "__name__": name, "quantile": _fmt(q.quantile)},
                                     t, sn if stale else q.value)
                elif kind == "exponential_histogram":
                    eh = metric.exponential_histogram
                    if eh.aggregation_temporality != _CUMULATIVE:
                        b.invalid_temporality(metric.name)
                        continue
                    name = naming.metric_name(metric.name, metric.unit, "histogram")
                    b.metadata(name, MT.HISTOGRAM, metric.description, metric.unit)
                    for dp in eh.data_points:
                        b.point()
                        t = dp.time_unix_nano // 1_000_000
                        hist = _exponential(dp, t)
                        if hist is None:
                            b.errors.append(
                                "cannot convert exponential to native histogram. Scale must be "
                                f">= -4, was {dp.scale}")
                        else:
                            latest = max(latest, t)
                            labels = {**_attrs(dp.attributes, naming), **base, "__name__": name}
                            _add_exemplars(b.histogram(labels, hist), dp.exemplars)
        info = _attrs(rm.resource.attributes, naming, skip=_IDENTIFYING)
        if info and latest and base:
            b.series({**info, **base, "__name__": "target_info"}, latest, 1.0)


def _parse(raw: bytes | memoryview, json: bool) -> svc.ExportMetricsServiceRequest:
    req = svc.ExportMetricsServiceRequest()
    try:
        if json:
            json_format.Parse(str(raw, "utf-8"), req, ignore_unknown_fields=True)
        else:
            parse_in_pieces(req, raw)  # not one upb call over the whole body: see ``pieces``
    except Exception as e:
        raise ProtocolError(f"failed to parse OTLP request: {e}") from None
    return req


def decode_otlp(
    raw: bytes | memoryview, *, json: bool = False, naming: OTLPNaming | None = None,
    convert_histograms_to_nhcb: bool = False, errors: list[str] | None = None,
) -> pb.WriteRequest:
    """Parse an OTLP ``ExportMetricsServiceRequest`` (protobuf or JSON) and translate it."""
    return otlp_to_write_request(_parse(raw, json), naming, errors=errors,
                                 convert_histograms_to_nhcb=convert_histograms_to_nhcb)


def decode_otlp_bytes(
    raw: bytes | memoryview, *, json: bool = False, naming: OTLPNaming | None = None,
    convert_histograms_to_nhcb: bool = False, errors: list[str] | None = None,
) -> memoryview:
    """``decode_otlp(...).SerializeToString()``, serialised SERIES_BATCH series at a time
    so that no single C call holds the GIL over the whole request."""
    b = _Builder(errors if errors is not None else [], batch=SERIES_BATCH)
    _convert(_parse(raw, json), naming or OTLPNaming(), convert_histograms_to_nhcb, b)
    return b.serialized()


def empty_response(*, json: bool = False) -> tuple[bytes, str]:
    """Body and content type of a fully successful OTLP export response."""
    if json:
        return b"{}", "application/json"
    return svc.ExportMetricsServiceResponse().SerializeToString(), "application/x-protobuf"
