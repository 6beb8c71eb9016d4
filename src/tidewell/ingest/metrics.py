"""Metrics of the ingest log, defined once per process (both backends share them).

Writer metrics keep Mimir's names so its dashboards work; the embedded log's own
metrics are prefixed ``tidewell_ingest_embedded_``.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
)

WRITER_LATENCY = Histogram(
    "cortex_ingest_storage_writer_latency_seconds",
    "Latency to write an incoming request to the ingest storage.",
    buckets=_LATENCY_BUCKETS,
)
WRITER_SENT_BYTES = Counter(
    "cortex_ingest_storage_writer_sent_bytes_total",
    "Total number of bytes produced to the ingest storage.",
)
RECORDS_ENQUEUED = Counter(
    "cortex_ingest_storage_writer_produce_records_enqueued_total",
    "Total number of records enqueued to be sent to the ingest storage "
    "(includes records that fail to be successfully sent).",
)
RECORDS_FAILED = Counter(
    "cortex_ingest_storage_writer_produce_records_failed_total",
    "Total number of records that failed to be sent to the ingest storage.",
    ["reason"],
)
BUFFERED_BYTES_LIMIT = Gauge(
    "cortex_ingest_storage_writer_buffered_produce_bytes_limit",
    "The bytes limit on buffered produce records. Produce requests fail once this "
    "limit is reached.",
)
BUFFERED_BYTES = Gauge(
    "cortex_ingest_storage_writer_buffered_produce_bytes",
    "Bytes of produced records not yet acknowledged by the ingest storage.",
)

EMBEDDED_FSYNCS = Counter(
    "tidewell_ingest_embedded_fsyncs_total",
    "Group commits of the embedded log (one fdatasync per touched partition each).",
)
EMBEDDED_FSYNC_SECONDS = Histogram(
    "tidewell_ingest_embedded_commit_duration_seconds",
    "Time to write and fdatasync one group commit of the embedded log.",
    buckets=_LATENCY_BUCKETS,
)
EMBEDDED_RECORDS_PER_COMMIT = Histogram(
    "tidewell_ingest_embedded_records_per_commit",
    "Records made durable by one group commit of the embedded log.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096),
)
EMBEDDED_TRUNCATED_BYTES = Counter(
    "tidewell_ingest_embedded_truncated_bytes_total",
    "Bytes of torn or corrupt segment tails removed when the embedded log was opened.",
)
EMBEDDED_SEGMENTS_DELETED = Counter(
    "tidewell_ingest_embedded_segments_deleted_total",
    "Segments of the embedded log deleted by retention.",
    ["reason"],
)
EMBEDDED_PARTITION_BYTES = Gauge(
    "tidewell_ingest_embedded_partition_bytes",
    "Bytes on disk of one partition of the embedded log.",
    ["partition"],
)

# The partition reader (tidewell.ingest.consumer and the pusher it feeds).
_R = "cortex_ingest_storage_reader_"

LAST_CONSUMED_OFFSET = Gauge(
    _R + "last_consumed_offset",
    "The last offset successfully consumed by the partition reader.",
    ["partition"],
)
LAST_COMMITTED_OFFSET = Gauge(
    _R + "last_committed_offset",
    "The last consumed offset successfully committed by the partition reader.",
    ["partition"],
)
OFFSET_COMMIT_REQUESTS = Counter(
    _R + "offset_commit_requests_total",
    "Total number of requests issued to commit the last consumed offset.",
    ["partition"],
)
OFFSET_COMMIT_FAILURES = Counter(
    _R + "offset_commit_failures_total",
    "Total number of failed requests to commit the last consumed offset.",
    ["partition"],
)
LAST_PRODUCED_OFFSET_REQUESTS = Counter(
    _R + "last_produced_offset_requests_total",
    "Total number of requests issued to get the last produced offset.",
    ["partition"],
)
LAST_PRODUCED_OFFSET_FAILURES = Counter(
    _R + "last_produced_offset_failures_total",
    "Total number of failed requests to get the last produced offset.",
    ["partition"],
)
RECEIVE_DELAY = Histogram(
    _R + "receive_delay_seconds",
    "Delay between producing a record and receiving it in the consumer.",
    ["phase"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
REQUESTS = Counter(
    _R + "requests_total",
    "Number of write requests (records) attempted to be ingested by the consumer.",
)
REQUESTS_FAILED = Counter(
    _R + "requests_failed_total",
    "Number of write requests (records) that failed, by cause (client, server, decode).",
    ["cause"],
)
RECORDS_PER_FETCH = Histogram(
    _R + "records_per_fetch",
    "The number of records received by the consumer in a single fetch operation.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
)
RECORDS_SKIPPED = Counter(
    "tidewell_ingest_storage_reader_records_skipped_total",
    "Records skipped by the partition consumer after failing every attempt, by cause: "
    "'decode' (bytes that do not parse) or 'apply' (taking them into storage failed). "
    "Their samples are not stored; each skip is logged at ERROR with its offset.",
    ["partition", "cause"],
)
