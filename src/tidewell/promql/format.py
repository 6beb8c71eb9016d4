"""Number rendering as Prometheus does it (Go's ``FormatFloat(v, 'f', -1, 64)``)."""

from __future__ import annotations

import math

import numpy as np

from tidewell.model import Labels

__all__ = ["format_float", "format_floats", "go_g", "ratio_sample"]


def format_float(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return np.format_float_positional(v, trim="-")


def format_floats(values: np.ndarray) -> list[str]:
    """``format_float`` over an array, fast for the common cases.

    Whole numbers (counters) print as integers; other finite values in
    [1e-4, 1e16) print as ``repr`` does, which is Go's shortest form there;
    the rest (exponents, NaN, Inf, -0) take the exact path.
    """
    with np.errstate(invalid="ignore"):
        mag = np.abs(values)
        whole = values == np.floor(values)
    if (whole & (mag < 1e15)).all() and not (np.signbit(values) & (values == 0)).any():
        return list(map(str, values.astype(np.int64).tolist()))
    out = list(map(repr, values.tolist()))
    with np.errstate(invalid="ignore"):
        odd = whole | ~((mag >= 1e-4) & (mag < 1e16))
    for i in np.flatnonzero(odd).tolist():
        out[i] = format_float(float(values[i]))
    return out


def ratio_sample(lb: Labels) -> float:
    """Where a series falls in [0, 1] for ``limit_ratio``: Prometheus's label hash / 2^64.

    Using the same hash (xxHash64 of ``name\xffvalue\xff…``) keeps the sampled
    subset identical to Prometheus's.
    """
    data = b"".join(n.encode() + b"\xff" + v.encode() + b"\xff" for n, v in lb)
    return xxh64(data) / float(2**64 - 1)


_M = (1 << 64) - 1
_P1, _P2, _P3 = 11400714785074694791, 14029467366897019727, 1609587929392839161
_P4, _P5 = 9650029242287828579, 2870177450012600261


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M


def _round(acc: int, lane: int) -> int:
    return (_rotl((acc + lane * _P2) & _M, 31) * _P1) & _M


def xxh64(data: bytes, seed: int = 0) -> int:
    """xxHash64, written out (label sets are short and this is not a hot path)."""
    n = len(data)
    i = 0
    if n >= 32:
        v1, v2, v3, v4 = (seed + _P1 + _P2) & _M, (seed + _P2) & _M, seed, (seed - _P1) & _M
        while i + 32 <= n:
            v1 = _round(v1, int.from_bytes(data[i:i + 8], "little"))
            v2 = _round(v2, int.from_bytes(data[i + 8:i + 16], "little"))
            v3 = _round(v3, int.from_bytes(data[i + 16:i + 24], "little"))
            v4 = _round(v4, int.from_bytes(data[i + 24:i + 32], "little"))
            i += 32
        h = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & _M
        for v in (v1, v2, v3, v4):
            h ^= _round(0, v)
            h = (h * _P1 + _P4) & _M
    else:
        h = (seed + _P5) & _M
    h = (h + n) & _M
    while i + 8 <= n:
        h ^= _round(0, int.from_bytes(data[i:i + 8], "little"))
        h = (_rotl(h, 27) * _P1 + _P4) & _M
        i += 8
    if i + 4 <= n:
        h ^= (int.from_bytes(data[i:i + 4], "little") * _P1) & _M
        h = (_rotl(h, 23) * _P2 + _P3) & _M
        i += 4
    while i < n:
        h ^= (data[i] * _P5) & _M
        h = (_rotl(h, 11) * _P1) & _M
        i += 1
    h ^= h >> 33
    h = (h * _P2) & _M
    h ^= h >> 29
    h = (h * _P3) & _M
    h ^= h >> 32
    return h


def go_g(v: float, eprec: int = 6) -> str:
    """Go's ``%g`` (``eprec`` 6) or ``%v`` (``eprec`` 21) of a float64: shortest digits,
    exponent form when the exponent is below -4 or at least ``eprec``."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "-0" if math.copysign(1.0, v) < 0 else "0"
    sci = np.format_float_scientific(abs(v), unique=True, trim="-")
    mant, _, e = sci.partition("e")
    exp = int(e)
    sign = "-" if v < 0 else ""
    if exp < -4 or exp >= eprec:
        return f"{sign}{mant.rstrip('.')}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return sign + np.format_float_positional(abs(v), trim="-")
