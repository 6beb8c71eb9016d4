"""Querier settings: the PromQL engine's limits, with Mimir's names and defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from tidewell.util.config_fields import InvalidValueError, setting

__all__ = ["ErrInvalidLookbackDelta", "ErrInvalidMaxSamples", "QuerierConfig"]


class ErrInvalidLookbackDelta(InvalidValueError):
    """``-querier.lookback-delta`` must be positive."""


class ErrInvalidMaxSamples(InvalidValueError):
    """``-querier.max-samples`` must be positive."""


@dataclass
class QuerierConfig:
    lookback_delta: float = field(default=300.0, metadata=setting(
        "Time since the last sample after which a time series is considered stale and "
        "ignored by expression evaluations.", flag="querier.lookback-delta", kind="duration"))
    max_samples: int = field(default=50_000_000, metadata=setting(
        "Maximum number of samples a single query can load into memory.",
        flag="querier.max-samples"))
    timeout: float = field(default=120.0, metadata=setting(
        "The timeout for a query.", flag="querier.timeout", kind="duration"))
    max_fetched_series_per_query: int = field(default=0, metadata=setting(
        "The maximum number of unique series for which a query can fetch samples from "
        "ingesters and store-gateways. 0 to disable.",
        flag="querier.max-fetched-series-per-query"))
    default_evaluation_interval: float = field(default=60.0, metadata=setting(
        "Step of subqueries written without one (``[5m:]``).",
        flag="querier.default-evaluation-interval", kind="duration"))

    def validate(self) -> None:
        if self.lookback_delta <= 0:
            raise ErrInvalidLookbackDelta("querier.lookback-delta must be greater than 0")
        if self.max_samples <= 0:
            raise ErrInvalidMaxSamples("querier.max-samples must be greater than 0")
