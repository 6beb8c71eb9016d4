"""Native histograms in query results as Prometheus's API writes them
(``jsonutil.MarshalHistogram``): ``{"count", "sum", "buckets": [[rule, lower, upper,
count], ...]}`` with every number a string, empty buckets left out."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tidewell.model import CounterResetHint, Histogram
from tidewell.promql.nhist import from_model

__all__ = ["histogram_from_exact", "histogram_json", "json_float"]


def json_float(v: float) -> str:
    """Go's ``AppendFloat(v, fmt, -1, 64)`` with ``fmt`` 'e' below 1e-6 and from 1e21 on."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    a = abs(v)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        mant, _, exp = np.format_float_scientific(v, trim="-", unique=True).partition("e")
        sign = exp[0] if exp[0] in "+-" else "+"
        digits = exp.lstrip("+-").lstrip("0") or "0"
        return f"{mant.rstrip('.')}e{sign}{digits.zfill(2)}"
    return np.format_float_positional(v, trim="-")


def histogram_json(h: Histogram, exact: bool = False) -> dict[str, Any]:
    """``exact`` adds the histogram itself (schema, spans, counts, hint) under ``"exact"``:
    the query-frontend asks for it (``X-Tidewell-Histograms: exact``) to compute on
    per-shard answers, which bucket bounds alone cannot give back."""
    fh = from_model(h)
    out: dict[str, Any] = {"count": json_float(fh.count), "sum": json_float(fh.sum)}
    buckets = [[b.boundary_rule(fh.custom), json_float(b.lower), json_float(b.upper),
                json_float(b.count)] for b in fh.all_buckets() if b.count != 0]
    if buckets:
        out["buckets"] = buckets
    if exact:
        out["exact"] = [h.schema, json_float(h.zero_threshold), json_float(h.zero_count),
                        json_float(h.count), json_float(h.sum), h.positive_spans,
                        [json_float(c) for c in h.positive_buckets], h.negative_spans,
                        [json_float(c) for c in h.negative_buckets], int(h.counter_reset_hint),
                        [json_float(c) for c in h.custom_values]]
    return out


def histogram_from_exact(e: list[Any]) -> Histogram:
    """The histogram ``histogram_json(h, exact=True)["exact"]`` describes."""
    return Histogram(schema=e[0], zero_threshold=float(e[1]), zero_count=float(e[2]),
                     count=float(e[3]), sum=float(e[4]),
                     positive_spans=tuple((o, n) for o, n in e[5]),
                     positive_buckets=tuple(float(c) for c in e[6]),
                     negative_spans=tuple((o, n) for o, n in e[7]),
                     negative_buckets=tuple(float(c) for c in e[8]),
                     counter_reset_hint=CounterResetHint(e[9]),
                     custom_values=tuple(float(c) for c in e[10]))
