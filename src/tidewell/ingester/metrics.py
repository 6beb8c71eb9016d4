"""Ingester and partition-reader metrics, with Mimir's names (defined once per process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# One counter for every component that discards samples, as in Mimir.
from tidewell.distributor.metrics import DISCARDED_SAMPLES  # noqa: F401

_P = "cortex_ingest_storage_reader_"

LAST_CONSUMED_OFFSET = Gauge(
    _P + "last_consumed_offset",
    "The last offset successfully consumed by the partition reader.",
    ["partition"],
)
LAST_COMMITTED_OFFSET = Gauge(
    _P + "last_committed_offset",
    "The last consumed offset successfully committed by the partition reader.",
    ["partition"],
)
OFFSET_COMMIT_REQUESTS = Counter(
    _P + "offset_commit_requests_total",
    "Total number of requests issued to commit the last consumed offset.",
    ["partition"],
)
OFFSET_COMMIT_FAILURES = Counter(
    _P + "offset_commit_failures_total",
    "Total number of failed requests to commit the last consumed offset.",
    ["partition"],
)
RECEIVE_DELAY = Histogram(
    _P + "receive_delay_seconds",
    "Delay between producing a record and receiving it in the consumer.",
    ["phase"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
REQUESTS = Counter(
    _P + "requests_total",
    "Number of write requests (records) attempted to be ingested by the consumer.",
)
REQUESTS_FAILED = Counter(
    _P + "requests_failed_total",
    "Number of write requests (records) that failed, by cause (client, server, decode).",
    ["cause"],
)
RECORDS_PER_FETCH = Histogram(
    _P + "records_per_fetch",
    "The number of records received by the consumer in a single fetch operation.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
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
