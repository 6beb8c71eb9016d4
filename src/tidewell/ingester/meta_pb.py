"""Exemplars, metadata and label sets in ``ingester_meta.proto`` messages, and a
tenant's exemplar and metadata stores as one snapshot blob.

The RPC codec of the querier (``querier.meta_wire``) and the ingester's
snapshots share these conversions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tidewell.ingester.exemplars import ExemplarStore
from tidewell.ingester.metadata import MetadataStore
from tidewell.model import Exemplar, Labels, MetricMetadata, MetricType
from tidewell.protocol.pb import ingester_meta_pb2 as pb

__all__ = [
    "encode_stores",
    "exemplar_from_pb",
    "exemplar_into_pb",
    "labels_from_pb",
    "labels_into_pb",
    "metadata_from_pb",
    "metadata_into_pb",
    "restore_stores",
]

_KNOWN_TYPES = frozenset(int(t) for t in MetricType)


def labels_into_pb(labels: Labels, out: Any) -> None:
    """Append ``labels`` to a repeated ``Label`` field."""
    for n, v in labels:
        out.add(name=n, value=v)


def labels_from_pb(labels: Iterable[pb.Label]) -> Labels:
    return Labels((lb.name, lb.value) for lb in labels)


def exemplar_into_pb(e: Exemplar, out: Any) -> None:
    """Append ``e`` to a repeated ``Exemplar`` field."""
    labels_into_pb(e.labels, out.add(value=e.value, timestamp=e.timestamp).labels)


def exemplar_from_pb(x: pb.Exemplar) -> Exemplar:
    return Exemplar(labels_from_pb(x.labels), x.value, x.timestamp)


def metadata_into_pb(md: MetricMetadata, out: Any) -> None:
    """Append ``md`` to a repeated ``MetricMetadata`` field."""
    out.add(metric_family_name=md.metric_family_name, type=int(md.type), help=md.help,
            unit=md.unit)


def metadata_from_pb(m: pb.MetricMetadata) -> MetricMetadata:
    """An unknown type number (a newer peer) reads as UNKNOWN."""
    t = MetricType(m.type) if m.type in _KNOWN_TYPES else MetricType.UNKNOWN
    return MetricMetadata(m.metric_family_name, t, m.help, m.unit)


def encode_stores(exemplars: ExemplarStore, metadata: MetadataStore) -> bytes:
    """A tenant's exemplars (in arrival order) and metadata as one ``StoresSnapshot``."""
    snap = pb.StoresSnapshot()
    series: dict[Labels, int] = {}
    for labels, e in exemplars.arrivals():
        ref = series.get(labels)
        if ref is None:
            ref = series[labels] = len(series)
            labels_into_pb(labels, snap.series.add().labels)
        snap.exemplar_series.append(ref)
        exemplar_into_pb(e, snap.exemplars)
    for md in metadata.query():
        metadata_into_pb(md, snap.metadata)
    return snap.SerializeToString()


def restore_stores(data: bytes, exemplars: ExemplarStore, metadata: MetadataStore) -> None:
    """Add a snapshot's exemplars and metadata back (the current limits apply)."""
    snap = pb.StoresSnapshot.FromString(data)
    series = [labels_from_pb(s.labels) for s in snap.series]
    for ref, x in zip(snap.exemplar_series, snap.exemplars, strict=True):
        exemplars.add(series[ref], [exemplar_from_pb(x)])
    metadata.add([metadata_from_pb(m) for m in snap.metadata])
