"""Native histograms as Prometheus models them (``model/histogram``), in one type.

Prometheus has an integer ``Histogram`` (bucket counts as deltas) and a
``FloatHistogram`` (absolute float counts). Tidewell keeps one immutable
``Histogram`` with absolute counts and an ``integer`` flag: the flag decides the
chunk encoding (2 = histogram, 3 = float histogram) and the wire form, while
everything that computes (PromQL, validation, merging) sees one shape.
Integer counts above 2**53 lose precision as floats; no real client sends those.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = [
    "CUSTOM_BUCKETS_SCHEMA",
    "CounterResetHint",
    "Histogram",
    "HistogramSamples",
    "Span",
    "bucket_map",
    "reduce_buckets",
    "spans_of",
]

CUSTOM_BUCKETS_SCHEMA = -53
"""Schema of native histograms with custom buckets (NHCB): bounds in ``custom_values``."""

Span = tuple[int, int]
"""``(offset, length)``: ``length`` consecutive buckets, ``offset`` buckets after the last span."""


class CounterResetHint(enum.IntEnum):
    """Prometheus's ``CounterResetHint`` (same numbers as remote write's ``ResetHint``)."""

    UNKNOWN = 0
    COUNTER_RESET = 1
    NOT_COUNTER_RESET = 2
    GAUGE = 3


@dataclass(frozen=True, slots=True)
class Histogram:
    """One native histogram sample.

    ``positive_buckets``/``negative_buckets`` hold absolute counts, one per
    bucket the spans describe (sum of span lengths). Exponential schemas are
    -4..8; ``CUSTOM_BUCKETS_SCHEMA`` uses ``custom_values`` as upper bounds and
    only positive buckets.
    """

    schema: int = 0
    zero_threshold: float = 0.0
    zero_count: float = 0.0
    count: float = 0.0
    sum: float = 0.0
    positive_spans: tuple[Span, ...] = ()
    positive_buckets: tuple[float, ...] = ()
    negative_spans: tuple[Span, ...] = ()
    negative_buckets: tuple[float, ...] = ()
    counter_reset_hint: CounterResetHint = CounterResetHint.UNKNOWN
    custom_values: tuple[float, ...] = ()
    integer: bool = False

    @property
    def uses_custom_buckets(self) -> bool:
        return self.schema == CUSTOM_BUCKETS_SCHEMA

    @property
    def is_gauge(self) -> bool:
        return self.counter_reset_hint == CounterResetHint.GAUGE


@dataclass(slots=True)
class HistogramSamples:
    """A series' histogram samples: timestamps (int64 ms, sorted, unique) and values."""

    timestamps: npt.NDArray[np.int64] = field(
        default_factory=lambda: np.empty(0, dtype=np.int64))
    values: list[Histogram] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.timestamps.shape[0])


def bucket_map(spans: tuple[Span, ...], counts: tuple[float, ...]) -> dict[int, float]:
    """One side's buckets as index -> count; one ``zip`` per span (spans never overlap)."""
    out: dict[int, float] = {}
    idx = 0
    k = 0
    for off, length in spans:
        idx += off
        out.update(zip(range(idx, idx + length), map(float, counts[k:k + length]),
                       strict=False))  # a short bucket list leaves the tail empty
        k += length
        idx += length
    return out


def spans_of(buckets: dict[int, float], keep_empty: bool = False
             ) -> tuple[tuple[Span, ...], tuple[float, ...]]:
    """Spans and counts of ``buckets`` in index order: empty buckets left out, as
    Prometheus's ``Compact(0)`` does, unless ``keep_empty``."""
    spans: list[list[int]] = []
    counts: list[float] = []
    last = None
    for i in sorted(buckets):
        c = buckets[i]
        if c == 0 and not keep_empty:
            continue
        if last is not None and i == last + 1:
            spans[-1][1] += 1
        else:
            spans.append([i if last is None else i - last - 1, 1])
        counts.append(c)
        last = i
    return tuple((a, b) for a, b in spans), tuple(counts)


def reduce_buckets(buckets: dict[int, float], by: int) -> dict[int, float]:
    """Buckets at a schema ``by`` lower: merged 2**by at a time, index i going to
    ((i - 1) >> by) + 1 (Prometheus's rule), counts added."""
    out: dict[int, float] = {}
    for i, c in buckets.items():
        j = ((i - 1) >> by) + 1
        out[j] = out.get(j, 0.0) + c
    return out
