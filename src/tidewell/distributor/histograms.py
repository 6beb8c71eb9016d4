"""Native histogram checks of the distributor: what Prometheus's TSDB and Mimir refuse.

A histogram the head would refuse later (spans that do not match the buckets,
negative counts, a count that does not add up, bad custom bounds) is refused
here, before the log acknowledges it, with the message Prometheus's
``Histogram.Validate`` gives and the error ID Mimir maps it to. Histograms
with more buckets than ``max_native_histogram_buckets`` are reduced in
resolution (or refused) as Mimir's ``validateSampleHistogram`` does.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from tidewell.model import CUSTOM_BUCKETS_SCHEMA, Histogram
from tidewell.model.errors import TidewellError
from tidewell.model.histogram import Span, bucket_map, reduce_buckets, spans_of

__all__ = [
    "MAX_SCHEMA",
    "MIN_SCHEMA",
    "HistogramProblem",
    "bucket_count",
    "check_histogram",
    "reduce_resolution",
]

MIN_SCHEMA = -4
MAX_SCHEMA = 8

_COUNT_NOT_BIG_ENOUGH = (
    "histogram's observation count should be at least the number of observations found in "
    "the buckets"
)
_COUNT_MISMATCH = (
    "histogram's observation count should equal the number of observations found in the "
    "buckets (in absence of NaN)"
)
_NEGATIVE_BUCKET = "histogram has a bucket whose observation count is negative"
_NEGATIVE_OFFSET = "histogram has a span whose offset is negative"
_SPANS_MISMATCH = "histogram spans specify different number of buckets than provided"
_CUSTOM_TOO_FEW = "histogram custom bounds are too few"
_CUSTOM_INVALID = "histogram custom bounds must be in strictly increasing order"
_CUSTOM_INFINITE = "histogram custom bounds must be finite"


class HistogramProblem(TidewellError):
    """Why a histogram is refused: Mimir's error ID (``native-histogram-…``) and the text."""

    def __init__(self, id_: str, text: str) -> None:
        super().__init__(text)
        self.id = id_
        self.text = text


def _g(v: float) -> str:
    """Go's ``%v`` of a count (integers without a decimal point)."""
    return str(int(v)) if float(v).is_integer() else repr(v)


def _check_spans(spans: Sequence[tuple[int, int]], n_buckets: int, *, first_may_be_neg: bool
                 ) -> None:
    need = 0
    for n, (offset, length) in enumerate(spans):
        if offset < 0 and (n > 0 or not first_may_be_neg):
            raise HistogramProblem(
                "native-histogram-span-negative-offset",
                f"span number {n + 1} with offset {offset}: {_NEGATIVE_OFFSET}")
        need += length
    if need != n_buckets:
        raise HistogramProblem(
            "native-histogram-spans-buckets-mismatch",
            f"spans need {need} buckets, have {n_buckets} buckets: {_SPANS_MISMATCH}")


def _check_buckets(buckets: Sequence[float]) -> float:
    if not buckets or min(buckets) >= 0:
        return float(sum(buckets))
    for i, c in enumerate(buckets):
        if c < 0:
            raise HistogramProblem(
                "native-histogram-negative-bucket-count",
                f"bucket number {i + 1} has observation count of {_g(c)}: {_NEGATIVE_BUCKET}")
    return float(sum(buckets))


def _check_custom_bounds(h: Histogram) -> None:
    prev = -math.inf
    for cur in h.custom_values:
        if not cur > prev:
            raise HistogramProblem(
                "native-histogram-custom-buckets-invalid",
                f"custom buckets: previous bound is {prev:f} and current is {cur:f}: "
                f"{_CUSTOM_INVALID}")
        prev = cur
    if prev == math.inf:
        raise HistogramProblem(
            "native-histogram-custom-buckets-infinite",
            f"custom buckets: last +Inf bound must not be explicitly defined: {_CUSTOM_INFINITE}")
    _check_spans(h.positive_spans, len(h.positive_buckets), first_may_be_neg=False)
    total = sum(offset + length for offset, length in h.positive_spans)
    if len(h.custom_values) + 1 < total:
        raise HistogramProblem(
            "native-histogram-custom-buckets-mismatch",
            f"custom buckets: only {len(h.custom_values)} custom bounds defined which is "
            f"insufficient to cover total span length of {total}: {_CUSTOM_TOO_FEW}")


def check_histogram(h: Histogram) -> None:
    """Raise ``HistogramProblem`` when Prometheus's ``Validate`` would refuse ``h``.

    The schema must be checked first (``MIN_SCHEMA``..``MAX_SCHEMA`` or custom
    buckets). As Prometheus, float histograms skip the count check (rounding
    makes it unreliable) and a NaN sum only needs count >= the buckets' sum.
    """
    if h.schema == CUSTOM_BUCKETS_SCHEMA:
        _check_custom_bounds(h)
        if h.zero_count != 0:
            raise HistogramProblem("native-histogram-custom-buckets-zero-count",
                                   "custom buckets: must have zero count of 0")
        if h.zero_threshold != 0:
            raise HistogramProblem("native-histogram-custom-buckets-zero-threshold",
                                   "custom buckets: must have zero threshold of 0")
        if h.negative_spans:
            raise HistogramProblem("native-histogram-custom-buckets-negative-spans",
                                   "custom buckets: must not have negative spans")
        if h.negative_buckets:
            raise HistogramProblem("native-histogram-custom-buckets-negative-buckets",
                                   "custom buckets: must not have negative buckets")
        n_count = 0.0
    else:
        if h.custom_values:
            raise HistogramProblem(
                "native-histogram-exponential-schema-custom-bounds",
                "histogram with exponential schema must not have custom bounds")
        for side, spans, buckets in (("positive", h.positive_spans, h.positive_buckets),
                                     ("negative", h.negative_spans, h.negative_buckets)):
            try:
                _check_spans(spans, len(buckets), first_may_be_neg=True)
            except HistogramProblem as e:
                raise HistogramProblem(e.id, f"{side} side: {e.text}") from None
        try:
            n_count = _check_buckets(h.negative_buckets)
        except HistogramProblem as e:
            raise HistogramProblem(e.id, f"negative side: {e.text}") from None
    try:
        p_count = _check_buckets(h.positive_buckets)
    except HistogramProblem as e:
        raise HistogramProblem(e.id, f"positive side: {e.text}") from None
    if not h.integer:
        return
    found = n_count + p_count + h.zero_count
    if math.isnan(h.sum):
        if found > h.count:
            raise HistogramProblem(
                "native-histogram-count-not-big-enough",
                f"{_g(found)} observations found in buckets, but the Count field is "
                f"{_g(h.count)}: {_COUNT_NOT_BIG_ENOUGH}")
    elif found != h.count:
        raise HistogramProblem(
            "native-histogram-count-mismatch",
            f"{_g(found)} observations found in buckets, but the Count field is {_g(h.count)}: "
            f"{_COUNT_MISMATCH}")


def bucket_count(h: Histogram) -> int:
    """Positive plus negative buckets (what ``max_native_histogram_buckets`` limits)."""
    return len(h.positive_buckets) + len(h.negative_buckets)


def reduce_resolution(h: Histogram, schema: int) -> Histogram:
    """``h`` at the coarser exponential ``schema`` (counts of merged buckets added up)."""
    by = h.schema - schema
    if h.schema == CUSTOM_BUCKETS_SCHEMA or by <= 0:
        raise ValueError(f"cannot reduce resolution from schema {h.schema} to {schema}")
    pos_spans, pos = _reduced_side(h.positive_spans, h.positive_buckets, by)
    neg_spans, neg = _reduced_side(h.negative_spans, h.negative_buckets, by)
    return dataclasses.replace(h, schema=schema, positive_spans=pos_spans, positive_buckets=pos,
                               negative_spans=neg_spans, negative_buckets=neg)


def _reduced_side(spans: tuple[Span, ...], buckets: tuple[float, ...], by: int
                  ) -> tuple[tuple[Span, ...], tuple[float, ...]]:
    """One side merged 2**by buckets at a time; empty buckets stay, as Prometheus's
    ``ReduceResolution`` keeps them."""
    return spans_of(reduce_buckets(bucket_map(spans, buckets), by), keep_empty=True)
