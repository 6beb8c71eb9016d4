"""The distributor's slow path: series parsed one by one for their histograms and exemplars.

Floats never come here (they stay on the byte scanner). Native histograms are
decoded by the compiled pass of ``protocol.wire_histograms``; series with
exemplars are parsed (upb); both are checked as Mimir's
``validateSampleHistogram`` / ``validateExemplars`` do, and given the content
the request is re-encoded with.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tidewell.distributor import metrics as m
from tidewell.distributor.errors import InvalidRequestError
from tidewell.distributor.histograms import (
    MAX_SCHEMA,
    MIN_SCHEMA,
    HistogramProblem,
    bucket_count,
    check_histogram,
    reduce_resolution,
)
from tidewell.distributor.limits import Limits
from tidewell.distributor.validation import exemplar_discard_reason, histogram_failure
from tidewell.model import CUSTOM_BUCKETS_SCHEMA, Histogram
from tidewell.protocol.pb import prompb_pb2 as pb
from tidewell.protocol.prompb_model import histogram_to_pb
from tidewell.protocol.wire import ScanResult
from tidewell.protocol.wire_histograms import HistogramDecodeError, decode_histograms

__all__ = [
    "check_series_histograms",
    "exemplar_bounds",
    "exemplars_to_fix",
    "fix_exemplars",
    "parse_series",
    "series_pb",
]

EXEMPLAR_MAX_AGE_MS = 5 * 60 * 1000
"""Mimir drops exemplars this much older than the request's earliest sample."""


def parse_series(data: bytes) -> pb.TimeSeries:
    """Full parse of one series; corrupt nested data fails the request (400)."""
    try:
        return pb.TimeSeries.FromString(data)
    except Exception as e:  # google.protobuf.message.DecodeError
        raise InvalidRequestError(f"failed to parse write request: {e}") from None


def series_pb(res: ScanResult, i: int) -> pb.TimeSeries:
    """Series ``i`` of a scanned request, parsed."""
    return parse_series(res.buf[int(res.ser_payload[i]) : int(res.ser_end[i])].tobytes())


# -- histograms -------------------------------------------------------------------------


def check_series_histograms(
    res: ScanResult, tenant: str, limits: Limits
) -> tuple[dict[int, tuple[str, str]], dict[int, list[pb.Histogram]]]:
    """Per series: why a histogram is refused (reason, message), or its new histograms.

    New histograms replace a series' own when they were reduced to fit
    ``max_native_histogram_buckets``, or dropped (ingestion disabled, counted).
    Mimir's order: schema, then bucket limit; before the limit, what
    Prometheus's ``Validate`` refuses (Mimir's ingester would refuse it later,
    after the log acknowledged it).
    """
    failed: dict[int, tuple[str, str]] = {}
    replace: dict[int, list[pb.Histogram]] = {}
    if not limits.native_histograms_ingestion_enabled:
        for i in np.nonzero(res.n_histograms)[0].tolist():
            replace[i] = []
            m.DISCARDED_SAMPLES.labels(tenant, "native_histogram_ingestion_disabled").inc(
                int(res.n_histograms[i]))
        return failed, replace
    try:
        series, stamps, hists = decode_histograms(res)
    except HistogramDecodeError as e:
        raise InvalidRequestError(f"failed to parse write request: {e}") from None
    by_series: dict[int, list[tuple[int, Histogram]]] = {}
    for i, t, h in zip(series, stamps, hists, strict=True):
        by_series.setdefault(i, []).append((t, h))
    for i, samples in by_series.items():
        out: list[tuple[int, Histogram]] = []
        changed = False
        for t, h in samples:
            verdict = _check_one(h, t, limits, res, i)
            if isinstance(verdict, tuple):
                failed[i] = verdict
                break
            changed = changed or verdict is not h
            out.append((t, verdict))
        if changed and i not in failed:
            replace[i] = [histogram_to_pb(h, t) for t, h in out]
    return failed, replace


def _check_one(
    h: Histogram, t: int, limits: Limits, res: ScanResult, i: int
) -> Histogram | tuple[str, str]:
    """``h`` itself, a reduced copy, or (reason, message) when it is refused."""
    if not (MIN_SCHEMA <= h.schema <= MAX_SCHEMA or h.schema == CUSTOM_BUCKETS_SCHEMA):
        return histogram_failure("schema", [], t, schema=h.schema)
    try:
        check_histogram(h)
    except HistogramProblem as e:
        return histogram_failure("invalid", res.labels_of(i), t, problem_id=e.id,
                                 problem=e.text)
    limit = limits.max_native_histogram_buckets
    n = bucket_count(h)
    if limit <= 0 or n <= limit:
        return h
    kind = ""
    reduced = h
    if h.schema == CUSTOM_BUCKETS_SCHEMA:
        kind = "custom_not_reducible"
    elif not limits.reduce_native_histogram_over_max_buckets:
        kind = "too_many_buckets"
    else:
        while bucket_count(reduced) > limit and reduced.schema > MIN_SCHEMA:
            reduced = reduce_resolution(reduced, reduced.schema - 1)
        if bucket_count(reduced) > limit:
            kind = "not_reducible"
    if kind:
        return histogram_failure(kind, res.labels_of(i), t, buckets=n, limit=limit)
    return reduced


# -- exemplars --------------------------------------------------------------------------


def exemplar_bounds(res: ScanResult, limits: Limits, now_ms: int) -> tuple[int, int]:
    """Oldest and newest exemplar timestamps Mimir keeps for this request."""
    has_data = (res.n_samples + res.n_histograms) > 0
    min_ts = 0
    if has_data.any():
        min_ts = int(res.ts_min[has_data].min()) - EXEMPLAR_MAX_AGE_MS
        if limits.past_grace_period > 0:
            min_ts = max(min_ts, now_ms - int(
                (limits.past_grace_period + limits.out_of_order_time_window) * 1000))
    return min_ts, now_ms + int(limits.creation_grace_period * 1000)


def exemplars_to_fix(
    res: ScanResult, bounds: tuple[int, int], per_series: int
) -> npt.NDArray[np.bool_]:
    """Series whose exemplars Mimir would change: one to drop, too many, out of order."""
    out = np.zeros(res.n_series, dtype=bool)
    for i in np.nonzero(res.n_exemplars)[0].tolist():
        if 0 < per_series < int(res.n_exemplars[i]):
            out[i] = True
            continue
        last = -(2**63)
        for e in series_pb(res, i).exemplars:
            pairs = [(lab.name, lab.value) for lab in e.labels]
            if e.timestamp < last or exemplar_discard_reason(
                    pairs, e.timestamp, *bounds) is not None:
                out[i] = True
                break
            last = e.timestamp
    return out


def fix_exemplars(ts: pb.TimeSeries, tenant: str, limits: Limits,
                  bounds: tuple[int, int]) -> None:
    """Mimir's ``validateExemplars`` on one series: at most the per-request limit (first
    ones kept), invalid ones dropped and counted, the rest in timestamp order."""
    exemplars = list(ts.exemplars)
    cap = limits.max_exemplars_per_series_per_request
    if 0 < cap < len(exemplars):
        m.DISCARDED_EXEMPLARS.labels(
            tenant, "too_many_exemplars_per_series_per_request").inc(len(exemplars) - cap)
        exemplars = exemplars[:cap]
    keep = []
    for e in exemplars:
        reason = exemplar_discard_reason(
            [(lab.name, lab.value) for lab in e.labels], e.timestamp, *bounds)
        if reason is None:
            keep.append(pb.Exemplar.FromString(e.SerializeToString()))
        else:
            m.DISCARDED_EXEMPLARS.labels(tenant, reason).inc()
    keep.sort(key=lambda e: e.timestamp)
    del ts.exemplars[:]
    ts.exemplars.extend(keep)
