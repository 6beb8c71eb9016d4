"""Why samples are refused, with Mimir's discard reasons, and the outcome of an append."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = ["AppendResult", "Reason"]


class Reason(enum.StrEnum):
    """Discard reasons: the ``reason`` label of ``cortex_discarded_samples_total``, as
    Mimir 3's ingester names them (``pkg/ingester``: a new value for a stored
    timestamp is ``new-value-for-timestamp``). Prometheus's ErrOutOfBounds
    (``sample-timestamp-too-old``) is no reason here: the head stores such late
    samples out of order (``head_append``); the distributor refuses with it."""

    OUT_OF_ORDER = "sample-out-of-order"
    TOO_OLD = "sample-too-old"
    DUPLICATE_TIMESTAMP = "new-value-for-timestamp"
    SERIES_LIMIT = "per_user_series_limit"


_IDS = {
    Reason.OUT_OF_ORDER: "err-mimir-sample-out-of-order",
    Reason.TOO_OLD: "err-mimir-sample-timestamp-too-old",
    Reason.DUPLICATE_TIMESTAMP: "err-mimir-sample-duplicate-timestamp",
    Reason.SERIES_LIMIT: "err-mimir-max-series-per-user",
}
"""Mimir's error IDs (``globalerror``), which its messages end with."""


_MESSAGES = {
    Reason.OUT_OF_ORDER: "the sample has been rejected because another sample with a more "
    "recent timestamp has already been ingested and out-of-order samples are not allowed "
    "(see -ingester.out-of-order-time-window)",
    Reason.TOO_OLD: "the sample has been rejected because another sample with a more recent "
    "timestamp has already been ingested and this sample is beyond the out-of-order time "
    "window (-ingester.out-of-order-time-window)",
    Reason.DUPLICATE_TIMESTAMP: "the sample has been rejected because another sample with "
    "the same timestamp, but a different value, has already been ingested",
    Reason.SERIES_LIMIT: "per-user series limit exceeded, this limit is shared by all "
    "partitions of the tenant (see -ingester.max-global-series-per-user)",
}


@dataclass(slots=True)
class AppendResult:
    """Counts of one append. Rejections are client errors: counted, never retried."""

    accepted: int = 0
    duplicates: int = 0
    """Samples identical (timestamp and value) to stored ones: accepted, not stored twice."""
    series_created: int = 0
    late: int = 0
    """Accepted samples older than the head's appendable minimum (Prometheus's out of
    bounds) and than its out-of-order window: acknowledged by the log, so stored out of
    order instead of refused (``head_append``)."""
    rejected: dict[Reason, int] = field(default_factory=dict)
    first_error: str = ""
    window: tuple[int, int] | None = None
    """(head max time, appendable minimum) when the append began: the floats and the
    histograms of one batch are judged by the same window, as in one Prometheus appender."""

    def reject(self, reason: Reason, count: int, series: str = "") -> None:
        if count <= 0:
            return
        self.rejected[reason] = self.rejected.get(reason, 0) + count
        if not self.first_error:
            where = f" for series {series}" if series else ""
            self.first_error = f"{_MESSAGES[reason]}{where} ({_IDS[reason]})"

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())
