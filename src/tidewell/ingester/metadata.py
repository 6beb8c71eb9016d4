"""One tenant's metric metadata (type, help, unit per metric family), as Mimir's
ingester keeps it (``userMetricsMetadata``).

Each metric family holds a *set* of metadata: targets scraped by one
Prometheus may disagree on a family's help text, and all versions are served.
Bounded by Mimir's limits: metric families with metadata per tenant
(``max_global_metadata_per_user``) and metadata per family
(``max_global_metadata_per_metric``), both already converted to this
ingester's share by the caller (0 = unlimited); what does not fit is refused
and counted in ``cortex_discarded_metadata_total``. Metadata not sent again
within ``retain_s`` (``-ingester.metadata-retain-period``) is forgotten, as a
metric that is no longer scraped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from prometheus_client import Counter, Gauge

from tidewell.distributor.metrics import DISCARDED_METADATA
from tidewell.model import MetricMetadata

__all__ = ["PER_METRIC_LIMIT", "PER_USER_LIMIT", "MetadataAddResult", "MetadataStore",
           "limit_metadata"]

PER_USER_LIMIT = "per_user_metadata_limit"
PER_METRIC_LIMIT = "per_metric_metadata_limit"

IN_MEMORY = Gauge("cortex_ingester_memory_metadata", "The current number of metadata in memory.")
CREATED = Counter(
    "cortex_ingester_memory_metadata_created_total",
    "The total number of metadata that were created per user",
    ["user"],
)
REMOVED = Counter(
    "cortex_ingester_memory_metadata_removed_total",
    "The total number of metadata that were removed per user.",
    ["user"],
)


@dataclass
class MetadataAddResult:
    created: int = 0
    refreshed: int = 0
    """Already held: its retention restarts."""
    per_user_limited: int = 0
    per_metric_limited: int = 0

    @property
    def rejected(self) -> int:
        return self.per_user_limited + self.per_metric_limited


class MetadataStore:
    """A tenant's metadata by family; the limits are asked on every ``add`` (they change live)."""

    def __init__(
        self,
        tenant: str,
        max_metrics: Callable[[], int] = lambda: 0,
        max_per_metric: Callable[[], int] = lambda: 0,
        *,
        retain_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tenant = tenant
        self._max_metrics = max_metrics
        self._max_per_metric = max_per_metric
        self.retain_s = retain_s
        self._clock = clock
        self._families: dict[str, dict[MetricMetadata, float]] = {}
        self._lock = threading.Lock()
        self._last_purge = clock()

    def add(self, items: Sequence[MetricMetadata]) -> MetadataAddResult:
        """Keep ``items`` (or refresh them); refuse what exceeds the limits."""
        res = MetadataAddResult()
        if not items:
            return res
        max_metrics, max_per_metric = self._max_metrics(), self._max_per_metric()
        now = self._clock()
        with self._lock:
            self._purge_if_due(now)
            for md in items:
                family = self._families.get(md.metric_family_name)
                if family is None:
                    if 0 < max_metrics <= len(self._families):
                        res.per_user_limited += 1
                        continue
                    family = self._families[md.metric_family_name] = {}
                if md in family:
                    res.refreshed += 1
                elif 0 < max_per_metric <= len(family):
                    res.per_metric_limited += 1
                    if not family:
                        del self._families[md.metric_family_name]
                    continue
                else:
                    res.created += 1
                family[md] = now
        if res.created:
            IN_MEMORY.inc(res.created)
            CREATED.labels(self.tenant).inc(res.created)
        if res.per_user_limited:
            DISCARDED_METADATA.labels(user=self.tenant, reason=PER_USER_LIMIT).inc(
                res.per_user_limited)
        if res.per_metric_limited:
            DISCARDED_METADATA.labels(user=self.tenant, reason=PER_METRIC_LIMIT).inc(
                res.per_metric_limited)
        return res

    def query(self, limit: int = -1, limit_per_metric: int = -1,
              metric: str = "") -> list[MetricMetadata]:
        """Metadata sorted by family, then type, help and unit.

        As Prometheus's ``/api/v1/metadata``: at most ``limit`` families (< 0: all)
        and ``limit_per_metric`` entries each (<= 0: all); ``metric`` keeps one family.
        """
        with self._lock:
            self._purge_if_due(self._clock())
            if metric:
                held = self._families.get(metric)
                families = {metric: list(held)} if held else {}
            else:
                families = {name: list(f) for name, f in self._families.items()}
        return limit_metadata(families, limit, limit_per_metric)

    def _purge_if_due(self, now: float) -> None:
        if self.retain_s <= 0 or now - self._last_purge < self.retain_s / 4:
            return
        self._last_purge = now
        deadline = now - self.retain_s
        removed = 0
        for name in list(self._families):
            family = self._families[name]
            for md in [md for md, seen in family.items() if seen < deadline]:
                del family[md]
                removed += 1
            if not family:
                del self._families[name]
        if removed:
            IN_MEMORY.dec(removed)
            REMOVED.labels(self.tenant).inc(removed)

    def __len__(self) -> int:
        return sum(len(f) for f in self._families.values())

    @property
    def num_metrics(self) -> int:
        return len(self._families)


def _order(md: MetricMetadata) -> tuple[int, str, str]:
    return (int(md.type), md.help, md.unit)


def limit_metadata(
    families: dict[str, list[MetricMetadata]], limit: int, limit_per_metric: int
) -> list[MetricMetadata]:
    """Families sorted by name, each sorted and cut to ``limit_per_metric``, at most ``limit``
    families; the rule every source and the merge of their answers apply alike."""
    names = sorted(families)
    if limit >= 0:
        names = names[:limit]
    out: list[MetricMetadata] = []
    for name in names:
        items = sorted(set(families[name]), key=_order)
        if limit_per_metric > 0:
            items = items[:limit_per_metric]
        out.extend(items)
    return out
