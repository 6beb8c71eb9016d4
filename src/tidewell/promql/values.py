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
    labels: list[Labels]
    values: np.ndarray  # (N, T) float64
    present: np.ndarray  # (N, T) bool
    drop_name: list[bool] = field(default_factory=list)

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
                     [self.drop_name[i] for i in rows])

    def compact(self) -> Block:
        """Drop series present at no step."""
        keep = np.flatnonzero(self.present.any(axis=1))
        if len(keep) == len(self.labels):
            return self
        return self.take(keep)


@dataclass(slots=True)
class RangeData:
    """A range vector for every step: raw samples plus each step's window.

    ``ts``/``vals`` are all series' samples concatenated; ``lo``/``hi``
    (N, T) give each step's window ``[lo, hi)``; ``tt`` (T,) the effective
    window end per step (after ``@``/offset) and ``rng`` its length in ms.
    ``sts`` (aligned with ``ts``, 0 = unknown) holds start timestamps when any
    selected series had them; subqueries never carry them.
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
