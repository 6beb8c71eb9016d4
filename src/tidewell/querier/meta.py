"""Exemplars and metric metadata for the query API: from the ingesters, merged.

Only ingesters hold exemplars and metadata (in memory, as in Mimir), so these
reads skip the store-gateways. In one process the ingester's ``TenantRegistry``
answers directly; in a cluster ``PartitionsMetaSource`` asks every healthy
owner of each of the tenant's partitions at once (both zones: a replica that
lags or restarted has fewer exemplars, so the union is the most complete
answer) and merges the answers, dropping what replicas hold twice. A partition
fails the read only when none of its owners answered.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from tidewell.ingester.metadata import limit_metadata
from tidewell.model import Exemplar, Labels, Matcher, MetricMetadata
from tidewell.querier.partitions import PartitionsQueryable
from tidewell.querier.remote import RemoteQueryable

__all__ = ["MetaSource", "PartitionsMetaSource", "merge_exemplars", "merge_metadata"]

T = TypeVar("T")


class MetaSource(Protocol):
    """Where the query API reads exemplars and metadata (an ingester, or all of them)."""

    def exemplars(
        self, tenant: str, start: int, end: int, matcher_sets: Sequence[Sequence[Matcher]]
    ) -> list[tuple[Labels, list[Exemplar]]]: ...

    def metadata(self, tenant: str, limit: int = -1, limit_per_metric: int = -1,
                 metric: str = "") -> list[MetricMetadata]: ...


def _exemplar_key(e: Exemplar) -> tuple[int, bytes, Labels]:
    return e.timestamp, struct.pack("<d", e.value), e.labels  # bit-exact: NaN equals NaN


def merge_exemplars(
    answers: Sequence[list[tuple[Labels, list[Exemplar]]]],
) -> list[tuple[Labels, list[Exemplar]]]:
    """Answers of several ingesters as one: series by labels, exemplars by time, once each."""
    if len(answers) == 1:
        return answers[0]
    by_series: dict[Labels, dict[tuple[int, bytes, Labels], Exemplar]] = {}
    for answer in answers:
        for labels, exemplars in answer:
            held = by_series.setdefault(labels, {})
            for e in exemplars:
                held.setdefault(_exemplar_key(e), e)
    return [(labels, sorted(by_series[labels].values(), key=lambda e: e.timestamp))
            for labels in sorted(by_series)]


def merge_metadata(answers: Sequence[list[MetricMetadata]], limit: int = -1,
                   limit_per_metric: int = -1) -> list[MetricMetadata]:
    """Answers of several ingesters as one, deduplicated, the limits applied again."""
    families: dict[str, list[MetricMetadata]] = {}
    for answer in answers:
        for md in answer:
            families.setdefault(md.metric_family_name, []).append(md)
    return limit_metadata(families, limit, limit_per_metric)


class PartitionsMetaSource:
    """``MetaSource`` over every owner of the partitions a tenant writes to."""

    def __init__(self, partitions: PartitionsQueryable) -> None:
        self._partitions = partitions

    def exemplars(
        self, tenant: str, start: int, end: int, matcher_sets: Sequence[Sequence[Matcher]]
    ) -> list[tuple[Labels, list[Exemplar]]]:
        return merge_exemplars(self._ask_all(
            tenant, lambda c: c.exemplars(tenant, start, end, matcher_sets)))

    def metadata(self, tenant: str, limit: int = -1, limit_per_metric: int = -1,
                 metric: str = "") -> list[MetricMetadata]:
        answers = self._ask_all(
            tenant, lambda c: c.metadata(tenant, limit, limit_per_metric, metric))
        return merge_metadata(answers, limit, limit_per_metric)

    def _ask_all(self, tenant: str, fn: Callable[[RemoteQueryable], T]) -> list[T]:
        """``fn`` on every owner of every partition of ``tenant``, the answers in one list."""
        return [a for group in self._partitions.ask_every_owner(tenant, fn) for a in group]
