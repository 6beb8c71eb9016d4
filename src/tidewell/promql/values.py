"""Intermediate values of the evaluator: every node yields one of these for all steps.

``Block`` is the heart: an instant vector over the whole query range as a
series x steps matrix with a presence mask, so operators work on arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tidewell.model import Labels

NAME_LABELS = ("__name__", "__type__", "__unit__")
"""Dropped together: type and unit metadata labels describe the metric name."""

__all__ = ["NAME_LABELS", "Block", "RangeData", "Scalar", "String"]


@dataclass(slots=True)
class Scalar:
    values: np.ndarray  # (T,)


@dataclass(slots=True)
class String:
    value: str


@dataclass(slots=True)
class Block:
    """``hist`` (N, T) object array holds native histograms (``nhist.FH``) where a step's
    sample is one (``present`` is True there too, ``values`` unused); None when no
    histogram is in the block, so float-only evaluation never looks at it."""

    labels: list[Labels]
    values: np.ndarray  # (N, T) float64
    present: np.ndarray  # (N, T) bool
    drop_name: list[bool] = field(default_factory=list)
    hist: np.ndarray | None = None

    def __post_init__(self) -> None:
        if not self.drop_name:
            self.drop_name = [False] * len(self.labels)

    @classmethod
    def empty(cls, steps: int) -> Block:
        return cls([], np.zeros((0, steps)), np.zeros((0, steps), dtype=bool), [])

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, rows: np.ndarray | list[int]) -> Block:
        rows = list(rows)
        return Block([self.labels[i] for i in rows], self.values[rows], self.present[rows],
                     [self.drop_name[i] for i in rows],
                     None if self.hist is None else self.hist[rows])

    def hist_mask(self) -> np.ndarray | None:
        """(N, T) True where a present sample is a histogram; None when there is none."""
        if self.hist is None:
            return None
        return hist_mask(self.hist) & self.present

    def floats_only(self) -> Block:
        """The float samples alone: what float-only functions and operators see."""
        m = self.hist_mask()
        if m is None:
            return self
        return Block(self.labels, self.values, self.present & ~m, self.drop_name)

    def compact(self) -> Block:
        """Drop series present at no step."""
        keep = np.flatnonzero(self.present.any(axis=1))
        if len(keep) == len(self.labels):
            return self
        return self.take(keep)


def hist_mask(hist: np.ndarray) -> np.ndarray:
    """True where an object array of histograms holds one."""
    return _IS_HIST(hist).astype(bool) if hist.size else np.zeros(hist.shape, dtype=bool)


_IS_HIST = np.frompyfunc(lambda x: x is not None, 1, 1)


@dataclass(slots=True)
class RangeData:
    """A range vector for every step: raw samples plus each step's window.

    ``ts``/``vals`` are all series' samples concatenated; ``lo``/``hi``
    (N, T) give each step's window ``[lo, hi)``; ``tt`` (T,) the effective
    window end per step (after ``@``/offset) and ``rng`` its length in ms.
    ``sts`` (aligned with ``ts``, 0 = unknown) holds start timestamps when any
    selected series had them; subqueries never carry them. ``hist`` holds each
    series' histogram samples (timestamps, ``nhist.FH`` list) with windows
    ``hlo``/``hhi`` (N, T) into them; None when no series has histograms.
    ``hsts`` (one array per ``hist`` entry, aligned with its timestamps) holds the
    histograms' start timestamps when any selected series had them, as ``sts``.
    """

    labels: list[Labels]
    ts: np.ndarray
    vals: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    tt: np.ndarray
    rng: int
    drop_name: list[bool] = field(default_factory=list)
    anchored: bool = False
    smoothed: bool = False
    sts: np.ndarray | None = None
    hist: list[tuple[np.ndarray, list]] | None = None
    hlo: np.ndarray | None = None
    hhi: np.ndarray | None = None
    hsts: list[np.ndarray] | None = None
