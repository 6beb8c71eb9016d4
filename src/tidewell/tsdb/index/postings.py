"""Select series IDs by label matchers with Prometheus semantics.

Matchers that select a series by a value it has intersect postings lists;
matchers that also accept series *without* the label (``foo=""``, ``foo!="x"``,
``foo!~"..."``, ``foo=~"|x"``) subtract the postings of the values they reject
instead, starting from all series when no positive matcher exists.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tidewell.model.matchers import Matcher, MatchType
from tidewell.tsdb.index.reader import IndexReader

__all__ = ["postings_for_matchers"]


def _matching_values(ir: IndexReader, m: Matcher, want: bool) -> list[str]:
    if m.type is MatchType.EQUAL and want:
        return [m.value]
    if m.type is MatchType.NOT_EQUAL and not want:
        return [m.value]
    return [v for v in ir.label_values(m.name) if m.matches(v) == want]


def postings_for_matchers(ir: IndexReader, matchers: Sequence[Matcher]) -> npt.NDArray[np.int64]:
    """Sorted series IDs (index refs) whose labels satisfy every matcher."""
    include: list[npt.NDArray[np.int64]] = []
    exclude: list[npt.NDArray[np.int64]] = []
    for m in matchers:
        if m.matches_empty():
            exclude.append(ir.postings_for_values(m.name, _matching_values(ir, m, False)))
        else:
            include.append(ir.postings_for_values(m.name, _matching_values(ir, m, True)))
    if include:
        include.sort(key=len)
        result = include[0]
        for other in include[1:]:
            if result.shape[0] == 0:
                break
            result = np.intersect1d(result, other, assume_unique=True)
    else:
        result = ir.all_postings()
    for other in exclude:
        if result.shape[0] == 0:
            break
        if other.shape[0]:
            result = np.setdiff1d(result, other, assume_unique=True)
    return result
