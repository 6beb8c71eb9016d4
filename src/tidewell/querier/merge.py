"""Merge what several sources know about a tenant into one answer.

Ingesters of two zones hold the same data, and recent blocks overlap the head,
so the same series arrives more than once: series are merged by labels and
samples deduplicated by timestamp (``tidewell.model.merge``).
"""

from __future__ import annotations

from collections.abc import Sequence

from tidewell.model import (
    Labels,
    Matcher,
    Querier,
    Queryable,
    SelectHints,
    Series,
    select_parts,
)
from tidewell.model.merge import merge_series


def merge_answers(answers: Sequence[list[Series]]) -> list[Series]:
    """Several sources' ``select`` answers as one: merged by labels, sorted by labels."""
    if len(answers) == 1:
        return answers[0]
    by_labels: dict[Labels, list[Series]] = {}
    for answer in answers:
        for s in answer:
            by_labels.setdefault(s.labels, []).append(s)
    return [merge_series(by_labels[lbls]) for lbls in sorted(by_labels)]


class MergeQuerier:
    """Several sources as one ``Querier``; a samples hint bounds them together
    (``select_parts``; ``disjoint``: no series is in two of them, as partitions)."""

    def __init__(self, queriers: Sequence[Querier], *, disjoint: bool = False) -> None:
        self._queriers = list(queriers)
        self.disjoint = disjoint

    def select(self, matchers: Sequence[Matcher],
               hints: SelectHints | None = None) -> list[Series]:
        return merge_answers(select_parts(self._queriers, matchers, hints,
                                          disjoint=self.disjoint))

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({n for q in self._queriers for n in q.label_names(matchers)})

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({v for q in self._queriers for v in q.label_values(name, matchers)})


class MergeQueryable:
    """A ``Queryable`` over several others (ingesters, store-gateways)."""

    def __init__(self, sources: Sequence[Queryable], *, disjoint: bool = False) -> None:
        self._sources = list(sources)
        self.disjoint = disjoint

    def querier(self, tenant: str, mint: int, maxt: int) -> Querier:
        return MergeQuerier([s.querier(tenant, mint, maxt) for s in self._sources],
                            disjoint=self.disjoint)
