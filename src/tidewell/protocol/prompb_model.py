"""Remote write 1.0 messages (``prompb``) to and from the shared model types.

Histograms travel with bucket counts as deltas (integer histograms) or
absolute floats (float histograms); ``tidewell.model.Histogram`` always holds
absolute counts and keeps the ``integer`` flag, so a round trip gives back the
same wire form. Per-histogram Python objects are fine here: histogram samples
are far rarer than float samples, which never pass through this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import accumulate

from tidewell.model import (
    CounterResetHint,
    Exemplar,
    Histogram,
    Labels,
    MetricMetadata,
    MetricType,
)
from tidewell.protocol.pb import prompb_pb2 as pb

__all__ = [
    "exemplar_from_pb",
    "exemplar_to_pb",
    "histogram_from_pb",
    "histogram_to_pb",
    "metadata_from_pb",
    "metadata_to_pb",
]


_HINTS = tuple(CounterResetHint)
"""By number: indexing is several times cheaper than calling the enum."""


def _spans(spans: Iterable[pb.BucketSpan]) -> tuple[tuple[int, int], ...]:
    return tuple([(s.offset, s.length) for s in spans])


def histogram_from_pb(h: pb.Histogram) -> Histogram:
    """The model histogram of one wire histogram (deltas summed into absolute counts).

    A histogram without ``count_float`` is an integer histogram, as Prometheus
    reads it (``IsFloatHistogram``). No validation: spans and buckets are kept
    as sent, so the distributor can name what is wrong with them.
    """
    integer = h.WhichOneof("count") != "count_float"
    if integer:
        count = float(h.count_int)
        zero = float(h.zero_count_int)
        pos = tuple(map(float, accumulate(h.positive_deltas)))
        neg = tuple(map(float, accumulate(h.negative_deltas)))
    else:
        count = h.count_float
        zero = h.zero_count_float
        pos = tuple(h.positive_counts)
        neg = tuple(h.negative_counts)
    hint = h.reset_hint
    return Histogram(
        schema=h.schema,
        zero_threshold=h.zero_threshold,
        zero_count=zero,
        count=count,
        sum=h.sum,
        positive_spans=_spans(h.positive_spans),
        positive_buckets=pos,
        negative_spans=_spans(h.negative_spans),
        negative_buckets=neg,
        counter_reset_hint=_HINTS[hint] if 0 <= hint < len(_HINTS) else _HINTS[0],
        custom_values=tuple(h.custom_values),
        integer=integer,
    )


def _deltas(counts: tuple[float, ...]) -> list[int]:
    out = []
    prev = 0
    for c in counts:
        ci = int(c)
        out.append(ci - prev)
        prev = ci
    return out


def histogram_to_pb(h: Histogram, timestamp: int, out: pb.Histogram | None = None) -> pb.Histogram:
    """Encode ``h`` (integer → ``count_int`` and bucket deltas, else float counts)."""
    m = out if out is not None else pb.Histogram()
    if h.integer:
        m.count_int = int(h.count)
        m.zero_count_int = int(h.zero_count)
        m.positive_deltas.extend(_deltas(h.positive_buckets))
        m.negative_deltas.extend(_deltas(h.negative_buckets))
    else:
        m.count_float = h.count
        m.zero_count_float = h.zero_count
        m.positive_counts.extend(h.positive_buckets)
        m.negative_counts.extend(h.negative_buckets)
    m.sum = h.sum
    m.schema = h.schema
    m.zero_threshold = h.zero_threshold
    for off, length in h.positive_spans:
        s = m.positive_spans.add()
        s.offset, s.length = off, length
    for off, length in h.negative_spans:
        s = m.negative_spans.add()
        s.offset, s.length = off, length
    m.reset_hint = int(h.counter_reset_hint)
    m.timestamp = timestamp
    m.custom_values.extend(h.custom_values)
    return m


def exemplar_from_pb(e: pb.Exemplar) -> Exemplar:
    return Exemplar(Labels((lab.name, lab.value) for lab in e.labels), e.value, e.timestamp)


def exemplar_to_pb(e: Exemplar, out: pb.Exemplar) -> pb.Exemplar:
    for name, value in e.labels:
        lab = out.labels.add()
        lab.name, lab.value = name, value
    out.value = e.value
    out.timestamp = e.timestamp
    return out


def metadata_from_pb(md: pb.MetricMetadata) -> MetricMetadata:
    mtype = md.type if 0 <= md.type <= 7 else 0
    return MetricMetadata(md.metric_family_name, MetricType(mtype), md.help, md.unit)


def metadata_to_pb(md: MetricMetadata, out: pb.MetricMetadata) -> pb.MetricMetadata:
    out.type = int(md.type)
    out.metric_family_name = md.metric_family_name
    out.help = md.help
    out.unit = md.unit
    return out
