"""Querier settings: the PromQL engine's limits and which sources a query asks by its time
range (see ``routing``), with Mimir's names and defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

from tidewell.util.config_fields import InvalidValueError, setting

__all__ = [
    "ErrBadLookbackConfigs",
    "ErrInvalidLookbackDelta",
    "ErrInvalidMaxConcurrent",
    "ErrInvalidMaxSamples",
    "ErrInvalidQueryTimeRouting",
    "QuerierConfig",
]


class ErrInvalidLookbackDelta(InvalidValueError):
    """``-querier.lookback-delta`` must be positive."""


class ErrInvalidMaxSamples(InvalidValueError):
    """``-querier.max-samples`` must be positive."""


class ErrInvalidMaxConcurrent(InvalidValueError):
    """``-querier.max-concurrent`` must be positive."""


class ErrInvalidQueryTimeRouting(InvalidValueError):
    """``-querier.query-ingesters-within`` and ``-querier.query-store-after`` must be >= 0."""


class ErrBadLookbackConfigs(InvalidValueError):
    """Store asked only after ingesters stopped being asked: a gap would be queried from
    neither (Mimir's ``errBadLookbackConfigs``)."""


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
    max_concurrent: int = field(default=2, metadata=setting(
        "The number of queries the querier evaluates at once; more wait in line. Each runs "
        "in its own worker thread off the HTTP event loop (Mimir's default is 20, for many "
        "cores; evaluation is CPU-bound, so about one per core).", flag="querier.max-concurrent"))
    write_priority_max_wait: float = field(default=0.01, metadata=setting(
        "Tidewell: in a process that also serves pushes, a query thread steps aside (releases "
        "the GIL) while a push is in flight, for at most this long per checkpoint; after a "
        "wait that ran out it runs as long again before it steps aside anew, so queries are "
        "slowed, never starved, by pushes back to back. A process with a GIL has no OS "
        "scheduler between its reads and writes (Mimir runs them in separate processes). "
        "0 turns it off.", flag="querier.write-priority-max-wait", kind="duration"))
    default_evaluation_interval: float = field(default=60.0, metadata=setting(
        "Step of subqueries written without one (``[5m:]``).",
        flag="querier.default-evaluation-interval", kind="duration"))
    query_ingesters_within: float = field(default=13 * 3600.0, metadata=setting(
        "Maximum lookback beyond which queries are not sent to ingesters. 0 means all "
        "queries are sent to ingesters.", flag="querier.query-ingesters-within",
        kind="duration"))
    query_store_after: float = field(default=12 * 3600.0, metadata=setting(
        "The time after which a metric should be queried from storage and not just "
        "ingesters. 0 means all queries are sent to store. If this option is enabled, the "
        "time range of the query sent to the store-gateway will be manipulated to ensure "
        "the query end is not more recent than 'now - query-store-after'.",
        flag="querier.query-store-after", kind="duration"))

    def validate(self) -> None:
        if self.lookback_delta <= 0:
            raise ErrInvalidLookbackDelta("querier.lookback-delta must be greater than 0")
        if self.max_samples <= 0:
            raise ErrInvalidMaxSamples("querier.max-samples must be greater than 0")
        if self.max_concurrent <= 0:
            raise ErrInvalidMaxConcurrent("querier.max-concurrent must be greater than 0")
        for flag, value in (("querier.query-ingesters-within", self.query_ingesters_within),
                            ("querier.query-store-after", self.query_store_after)):
            if value < 0:
                raise ErrInvalidQueryTimeRouting(f"{flag} must not be negative")
        within, after = self.query_ingesters_within, self.query_store_after
        if within and after and after >= within:
            raise ErrBadLookbackConfigs(
                "the -querier.query-ingesters-within setting must be greater than "
                "-querier.query-store-after otherwise queries might return partial results")
