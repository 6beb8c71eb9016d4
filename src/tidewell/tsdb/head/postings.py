"""The head's label index: for every (name, value) pair, the refs of series having it.

Refs are assigned in increasing order, so each postings list is sorted by
construction and the set operations below stay linear NumPy work. A value
held by a single series (ids, pod names…) is stored as a bare int rather than
an ``array``: less memory, and one object fewer for the cyclic GC to scan.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from tidewell.model.labels import Labels
from tidewell.model.matchers import Matcher, MatchType

__all__ = ["MemPostings"]

_EMPTY = np.empty(0, dtype=np.int32)


def _as_array(refs: array[int] | int) -> npt.NDArray[np.int32]:
    if type(refs) is int:
        return np.array([refs], dtype=np.int32)
    return np.frombuffer(refs, dtype=np.int32)


def _contains(sorted_refs: npt.NDArray[np.int32], refs: npt.NDArray[np.int32]
              ) -> npt.NDArray[np.bool_]:
    """Which of ``refs`` are in ``sorted_refs``: a binary search per ref, so intersecting
    a short list with a long one (a rule's label with a metric name) costs the short one."""
    at = sorted_refs.searchsorted(refs)
    np.minimum(at, sorted_refs.shape[0] - 1, out=at)
    return sorted_refs[at] == refs


class MemPostings:
    """``name -> value -> array of series refs``, appended as series are created."""

    __slots__ = ("_index",)

    def __init__(self) -> None:
        self._index: dict[str, dict[str, array[int] | int]] = {}

    def add(self, ref: int, labels: Labels) -> None:
        for name, value in labels:
            values = self._index.get(name)
            if values is None:
                values = self._index[name] = {}
            refs = values.get(value)
            if refs is None:
                values[value] = ref
            elif type(refs) is int:
                values[value] = array("i", (refs, ref))
            else:
                refs.append(ref)

    @classmethod
    def from_groups(
        cls, pairs: Sequence[tuple[str, str]], refs: Sequence[npt.NDArray[np.int32]]
    ) -> MemPostings:
        """Build from each pair's sorted refs at once (restoring a snapshot)."""
        p = cls()
        index = p._index
        for (name, value), arr in zip(pairs, refs, strict=True):
            values = index.get(name)
            if values is None:
                values = index[name] = {}
            values[value] = int(arr[0]) if arr.shape[0] == 1 else array("i", arr.tobytes())
        return p

    def remove(self, dead: npt.NDArray[np.bool_]) -> None:
        """Drop refs flagged in ``dead`` (indexed by ref) from every list."""
        for name in list(self._index):
            values = self._index[name]
            for value in list(values):
                arr = _as_array(values[value])
                keep = arr[~dead[arr]]
                if keep.shape[0] == 0:
                    del values[value]
                elif keep.shape[0] == 1:
                    values[value] = int(keep[0])
                elif keep.shape[0] != arr.shape[0]:
                    values[value] = array("i", keep.tobytes())
            if not values:
                del self._index[name]

    def label_names(self) -> list[str]:
        return sorted(self._index)

    def label_values(self, name: str) -> list[str]:
        return sorted(self._index.get(name, ()))

    def value_counts(self, name: str) -> dict[str, int]:
        """Series per value of ``name``: the lists' lengths, no copies (cardinality stats)."""
        return {v: 1 if type(r) is int else len(r) for v, r in self._index.get(name, {}).items()}

    def get(self, name: str, value: str) -> npt.NDArray[np.int32]:
        refs = self._index.get(name, {}).get(value)
        return _EMPTY if refs is None else _as_array(refs)

    def _union(self, name: str, values: Iterable[str]) -> npt.NDArray[np.int32]:
        lists = self._index.get(name, {})
        parts = [_as_array(lists[v]) for v in values if v in lists]
        if not parts:
            return _EMPTY
        if len(parts) == 1:
            return parts[0]
        return np.unique(np.concatenate(parts))

    def _matching_values(self, m: Matcher, want: bool) -> list[str]:
        return [v for v in self._index.get(m.name, ()) if m.matches(v) == want]

    def select(self, matchers: Sequence[Matcher], all_refs: npt.NDArray[np.int32]) -> (
        npt.NDArray[np.int32]
    ):
        """Sorted refs of series matching every matcher (Prometheus semantics).

        A matcher that matches the empty string also selects series lacking the
        label, so it is applied as "remove series whose value does not match";
        the others select series whose value matches.
        """
        include: list[npt.NDArray[np.int32]] = []
        exclude: list[npt.NDArray[np.int32]] = []
        for m in matchers:
            if m.matches_empty():
                exclude.append(self._union(m.name, self._matching_values(m, False)))
            elif m.type is MatchType.EQUAL:
                include.append(self.get(m.name, m.value))
            else:
                include.append(self._union(m.name, self._matching_values(m, True)))
        if include:
            include.sort(key=len)
            result = include[0]
            for other in include[1:]:
                if result.shape[0] == 0:
                    break
                result = result[_contains(other, result)]
        else:
            result = all_refs
        for other in exclude:
            if result.shape[0] == 0:
                break
            if other.shape[0]:
                result = result[~_contains(other, result)]
        return result.astype(np.int32, copy=False)
