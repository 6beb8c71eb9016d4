"""Wire format of the exemplar and metadata RPCs (``ingester_meta.proto``), both ends.

Answers are small (bounded by the tenants' exemplar and metadata limits), so
plain protobuf messages per exemplar are fine here, unlike the series columns
of ``wire``. Matchers reuse ``wire``'s encoding (the messages share its shape).
"""

from __future__ import annotations

from collections.abc import Sequence

from tidewell.model import Exemplar, Labels, Matcher, MetricMetadata, MetricType
from tidewell.protocol.pb import ingester_meta_pb2 as pb
from tidewell.querier.wire import decode_matchers, encode_matchers

__all__ = [
    "decode_exemplars_request",
    "decode_exemplars_response",
    "decode_metadata_request",
    "decode_metadata_response",
    "encode_exemplars_request",
    "encode_exemplars_response",
    "encode_metadata_request",
    "encode_metadata_response",
]

SeriesExemplars = list[tuple[Labels, list[Exemplar]]]


def _labels_to_pb(labels: Labels, out: object) -> None:
    for n, v in labels:
        out.add(name=n, value=v)  # type: ignore[attr-defined]


def _labels_from_pb(labels: Sequence[pb.Label]) -> Labels:
    return Labels((lb.name, lb.value) for lb in labels)


def encode_exemplars_request(start: int, end: int,
                             matcher_sets: Sequence[Sequence[Matcher]]) -> bytes:
    req = pb.ExemplarsRequest(start=start, end=end)
    for ms in matcher_sets:
        encode_matchers(ms, req.matcher_sets.add())  # type: ignore[arg-type]
    return req.SerializeToString()


def decode_exemplars_request(body: bytes) -> tuple[int, int, list[list[Matcher]]]:
    """``(start, end, matcher_sets)``; raises ``DecodeError`` or ``ValueError`` (bad matcher)."""
    req = pb.ExemplarsRequest.FromString(body)
    sets = [decode_matchers(ms) for ms in req.matcher_sets]  # type: ignore[arg-type]
    return req.start, req.end, sets


def encode_exemplars_response(series: SeriesExemplars) -> bytes:
    resp = pb.ExemplarsResponse()
    for labels, exemplars in series:
        s = resp.series.add()
        _labels_to_pb(labels, s.series_labels)
        for e in exemplars:
            x = s.exemplars.add(value=e.value, timestamp=e.timestamp)
            _labels_to_pb(e.labels, x.labels)
    return resp.SerializeToString()


def decode_exemplars_response(body: bytes) -> SeriesExemplars:
    resp = pb.ExemplarsResponse.FromString(body)
    return [
        (_labels_from_pb(s.series_labels),
         [Exemplar(_labels_from_pb(x.labels), x.value, x.timestamp) for x in s.exemplars])
        for s in resp.series
    ]


def encode_metadata_request(limit: int, limit_per_metric: int, metric: str) -> bytes:
    return pb.MetadataRequest(limit=limit, limit_per_metric=limit_per_metric,
                              metric=metric).SerializeToString()


def decode_metadata_request(body: bytes) -> tuple[int, int, str]:
    req = pb.MetadataRequest.FromString(body)
    return req.limit, req.limit_per_metric, req.metric


def encode_metadata_response(items: Sequence[MetricMetadata]) -> bytes:
    resp = pb.MetadataResponse()
    for md in items:
        resp.metadata.add(metric_family_name=md.metric_family_name, type=int(md.type),
                          help=md.help, unit=md.unit)
    return resp.SerializeToString()


def decode_metadata_response(body: bytes) -> list[MetricMetadata]:
    """Metadata of an answer; an unknown type number reads as UNKNOWN (a newer peer)."""
    resp = pb.MetadataResponse.FromString(body)
    known = {int(t) for t in MetricType}
    return [
        MetricMetadata(m.metric_family_name,
                       MetricType(m.type) if m.type in known else MetricType.UNKNOWN,
                       m.help, m.unit)
        for m in resp.metadata
    ]
