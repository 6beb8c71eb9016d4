"""Native histograms in query results as Prometheus's API writes them
(``jsonutil.MarshalHistogram``): ``{"count", "sum", "buckets": [[rule, lower, upper,
count], ...]}`` with every number a string, empty buckets left out."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tidewell.model import Histogram
from tidewell.promql.nhist import from_model

__all__ = ["histogram_json", "json_float"]


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


def histogram_json(h: Histogram) -> dict[str, Any]:
    fh = from_model(h)
    out: dict[str, Any] = {"count": json_float(fh.count), "sum": json_float(fh.sum)}
    buckets = [[b.boundary_rule(fh.custom), json_float(b.lower), json_float(b.upper),
                json_float(b.count)] for b in fh.all_buckets() if b.count != 0]
    if buckets:
        out["buckets"] = buckets
    return out
