"""Wire format of the exemplar and metadata RPCs (``ingester_meta.proto``), both ends.

Answers are small (bounded by the tenants' exemplar and metadata limits), so
plain protobuf messages per exemplar are fine here, unlike the series columns
of ``wire``. Matchers reuse ``wire``'s encoding (the messages share its shape).
"""

from __future__ import annotations

from collections.abc import Sequence

from tidewell.ingester.meta_pb import (
    exemplar_from_pb,
    exemplar_into_pb,
    labels_from_pb,
    labels_into_pb,
    metadata_from_pb,
    metadata_into_pb,
)
from tidewell.model import Exemplar, Labels, Matcher, MetricMetadata
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


def encode_exemplars_response(series: Sequence[tuple[Labels, Sequence[Exemplar]]]) -> bytes:
    resp = pb.ExemplarsResponse()
    for labels, exemplars in series:
        s = resp.series.add()
        labels_into_pb(labels, s.series_labels)
        for e in exemplars:
            exemplar_into_pb(e, s.exemplars)
    return resp.SerializeToString()


def decode_exemplars_response(body: bytes) -> list[tuple[Labels, list[Exemplar]]]:
    resp = pb.ExemplarsResponse.FromString(body)
    return [(labels_from_pb(s.series_labels), [exemplar_from_pb(x) for x in s.exemplars])
            for s in resp.series]


def encode_metadata_request(limit: int, limit_per_metric: int, metric: str) -> bytes:
    return pb.MetadataRequest(limit=limit, limit_per_metric=limit_per_metric,
                              metric=metric).SerializeToString()


def decode_metadata_request(body: bytes) -> tuple[int, int, str]:
    req = pb.MetadataRequest.FromString(body)
    return req.limit, req.limit_per_metric, req.metric


def encode_metadata_response(items: Sequence[MetricMetadata]) -> bytes:
    resp = pb.MetadataResponse()
    for md in items:
        metadata_into_pb(md, resp.metadata)
    return resp.SerializeToString()


def decode_metadata_response(body: bytes) -> list[MetricMetadata]:
    return [metadata_from_pb(m) for m in pb.MetadataResponse.FromString(body).metadata]
