"""Uncompressed samples not yet cut into chunks, for all series of one head.

Appends only add arrays to a list (no per-series work); reads and chunk
cutting need the samples grouped by series, which one stable sort by ref
provides. Because the sorted part is kept as the first run, re-sorting after
a few appends is a merge of runs (timsort), not a full sort.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["Staging"]

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def _empty() -> tuple[I32, I64, F64]:
    return (
        np.empty(0, dtype=np.int32),
        np.empty(0, dtype=np.int64),
        np.empty(0, dtype=np.float64),
    )


class Staging:
    """Columnar (ref, timestamp, value) triples; within one ref, in append order."""

    __slots__ = ("_parts", "_sorted", "count")

    def __init__(self) -> None:
        self._parts: list[tuple[I32, I64, F64]] = []
        self._sorted = True
        self.count = 0

    def add(self, refs: I32, ts: I64, vals: F64) -> None:
        if refs.shape[0] == 0:
            return
        self._parts.append((refs, ts, vals))
        self.count += int(refs.shape[0])
        if len(self._parts) > 1 or not bool(np.all(refs[1:] >= refs[:-1])):
            self._sorted = False

    def sorted_view(self) -> tuple[I32, I64, F64]:
        """All staged samples ordered by ref (stable), consolidated into one run."""
        if not self._parts:
            return _empty()
        if self._sorted and len(self._parts) == 1:
            return self._parts[0]
        # One column at a time, dropping the parts as we go: peak memory stays near
        # one extra copy of the staged data instead of three.
        parts, self._parts = self._parts, []
        order = np.argsort(np.concatenate([p[0] for p in parts]), kind="stable")
        cols = []
        for c in range(3):
            cols.append(np.concatenate([p[c] for p in parts])[order])
        del parts
        view = (cols[0], cols[1], cols[2])
        self._parts = [view]
        self._sorted = True
        return view

    def replace(self, refs: I32, ts: I64, vals: F64) -> None:
        """Install a new sorted-by-ref content (after cutting chunks)."""
        self._parts = [(refs, ts, vals)] if refs.shape[0] else []
        self._sorted = True
        self.count = int(refs.shape[0])

    def clear(self) -> None:
        """Drop everything staged (it was moved into chunks)."""
        self.replace(*_empty())

    def nbytes(self) -> int:
        return sum(p[0].nbytes + p[1].nbytes + p[2].nbytes for p in self._parts)
