"""Ingester metrics, with Mimir's names (defined once per process).

The partition reader's (``cortex_ingest_storage_reader_*``) are in ``tidewell.ingest.metrics``.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

# One counter for every component that discards samples, as in Mimir.
from tidewell.distributor.metrics import DISCARDED_SAMPLES  # noqa: F401

MEMORY_SERIES = Gauge(
    "cortex_ingester_memory_series", "The current number of series in memory."
)
MEMORY_USERS = Gauge(
    "cortex_ingester_memory_users", "The current number of users in memory."
)
INGESTED_SAMPLES = Counter(
    "cortex_ingester_ingested_samples_total", "The total number of samples ingested per user.",
    ["user"],
)
INGESTED_EXEMPLARS = Counter(
    "cortex_ingester_ingested_exemplars_total", "The total number of exemplars ingested."
)
INGESTED_EXEMPLARS_FAILURES = Counter(
    "cortex_ingester_ingested_exemplars_failures_total",
    "The total number of exemplars that errored on ingestion.",
)
INGESTED_METADATA = Counter(
    "cortex_ingester_ingested_metadata_total", "The total number of metadata ingested."
)
INGESTED_METADATA_FAILURES = Counter(
    "cortex_ingester_ingested_metadata_failures_total",
    "The total number of metadata that errored on ingestion.",
)
WAL_REPLAY_DURATION = Gauge(
    "cortex_ingester_tsdb_wal_replay_duration_seconds",
    "The total time it takes to open and replay the ingester's local state.",
)
SNAPSHOTS = Counter(
    "cortex_ingester_tsdb_memory_snapshots_total",
    "Head snapshots written (outcome: success or failure).",
    ["outcome"],
)
DUPLICATE_SAMPLES = Counter(
    "tidewell_ingester_duplicate_samples_total",
    "Samples identical to stored ones (same timestamp and value), accepted without storing.",
    ["user"],
)
LATE_SAMPLES = Counter(
    "tidewell_ingester_late_samples_appended_total",
    "Samples older than the oldest timestamp the head took in order (Prometheus's out of "
    "bounds) that came through the log, already acknowledged: stored out of order instead "
    "of discarded, and cut into out-of-order blocks.",
    ["user"],
)
SHIPPER_UPLOADS = Counter(
    "cortex_ingester_shipper_uploads_total", "Total number of uploaded TSDB blocks."
)
SHIPPER_UPLOAD_FAILURES = Counter(
    "cortex_ingester_shipper_upload_failures_total",
    "Total number of TSDB block upload failures (each retried at the next sync).",
)
SHIPPER_LAST_SUCCESSFUL_UPLOAD = Gauge(
    "cortex_ingester_shipper_last_successful_upload_timestamp_seconds",
    "Unix timestamp (in seconds) of the last successful TSDB block uploaded to the bucket.",
)
COMPACTIONS = Counter(
    "cortex_ingester_tsdb_compactions_total",
    "Total number of head compactions that cut at least one block.",
)
COMPACTIONS_FAILED = Counter(
    "cortex_ingester_tsdb_compactions_failed_total",
    "Total number of head compactions that failed (retried at the next interval).",
)
LOCAL_BLOCKS_DELETED = Counter(
    "tidewell_ingester_local_blocks_deleted_total",
    "Local blocks deleted after the retention period (only once shipped).",
)
