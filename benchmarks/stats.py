"""Result rows and the arithmetic of the table: medians, spread, ratios.

A cell is either a ``Measured`` (repetitions of one figure) or an
``Unavailable`` (why it could not be measured). Ratios exist only between two
measured cells with a non-zero denominator; anything else is shown as a dash,
never as a number.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "Measured",
    "Row",
    "Unavailable",
    "fmt_number",
    "median",
    "quantile",
    "ratio",
]


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default method); q in [0, 1]."""
    if not values:
        raise ValueError("quantile of no values")
    if not 0.0 <= q <= 1.0:
        raise ValueError("q must be within [0, 1]")
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def median(values: Sequence[float]) -> float:
    return quantile(values, 0.5)


@dataclass(frozen=True)
class Measured:
    """Repetitions of one figure; the table shows median and [min-max]."""

    values: tuple[float, ...]

    def __init__(self, values: Sequence[float] | float) -> None:
        vals = (float(values),) if isinstance(values, int | float) else tuple(map(float, values))
        if not vals:
            raise ValueError("Measured needs at least one value")
        object.__setattr__(self, "values", vals)

    @property
    def median(self) -> float:
        return median(self.values)

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def max(self) -> float:
        return max(self.values)

    @property
    def iqr(self) -> float:
        return quantile(self.values, 0.75) - quantile(self.values, 0.25)

    @property
    def n(self) -> int:
        return len(self.values)

    def render(self) -> str:
        if self.n == 1:
            return f"{fmt_number(self.median)} (n=1)"
        return (
            f"{fmt_number(self.median)} [{fmt_number(self.min)}-{fmt_number(self.max)}]"
            f" (n={self.n})"
        )


@dataclass(frozen=True)
class Unavailable:
    reason: str

    def render(self) -> str:
        return f"n/a: {self.reason}"


Cell = Measured | Unavailable


def ratio(tidewell: Cell, prometheus: Cell) -> float | None:
    """Tidewell's median over Prometheus's, or None when it is not defined."""
    if not isinstance(tidewell, Measured) or not isinstance(prometheus, Measured):
        return None
    if prometheus.median == 0:
        return None
    return tidewell.median / prometheus.median


def fmt_number(x: float) -> str:
    """Three significant digits with k/M/G suffixes; small values keep their decimals."""
    if math.isnan(x) or math.isinf(x):
        return str(x)
    ax = abs(x)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if ax >= div:
            return f"{x / div:.3g}{suffix}"
    if ax == 0:
        return "0"
    if ax >= 1:
        return f"{x:.3g}"
    return f"{x:.3g}"


@dataclass
class Row:
    """One figure of one scenario for both systems."""

    scenario: str
    metric: str
    unit: str
    tidewell: Cell
    prometheus: Cell
    better: str = "higher"  # or "lower": how to read the ratio
    note: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        return ratio(self.tidewell, self.prometheus)

    def ratio_text(self) -> str:
        r = self.ratio
        return "-" if r is None else f"{r:.3g}x"
