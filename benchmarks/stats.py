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

SYSTEMS = ("tidewell", "prometheus", "prometheus3", "victoriametrics")
"""The table's columns, in order: Tidewell, then the peers it is compared with."""

SYSTEM_LABELS = {
    "tidewell": "Tidewell",
    "prometheus": "Prometheus 2.42",
    "prometheus3": "Prometheus 3",
    "victoriametrics": "VictoriaMetrics",
}
SHORT_LABELS = {"prometheus": "P2.42", "prometheus3": "P3", "victoriametrics": "VM"}

__all__ = [
    "SYSTEMS",
    "SYSTEM_LABELS",
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
    """One figure of one scenario, one cell per system (``SYSTEMS`` keys)."""

    scenario: str
    metric: str
    unit: str
    cells: dict[str, Cell]
    better: str = "higher"  # or "lower": how to read the ratios
    note: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def cell(self, system: str) -> Cell:
        return self.cells.get(system, Unavailable("not run"))

    def ratio(self, peer: str) -> float | None:
        """Tidewell's median over ``peer``'s."""
        return ratio(self.cell("tidewell"), self.cell(peer))

    def ratio_text(self) -> str:
        """Tidewell over each peer that has a figure, e.g. ``P2.42 2.5x · VM 0.4x``."""
        parts = []
        for peer in SYSTEMS[1:]:
            r = self.ratio(peer)
            if r is not None:
                parts.append(f"{SHORT_LABELS[peer]} {r:.3g}x")
        return " · ".join(parts) or "-"
