"""Compactor metrics, named as Mimir's compactor and blocks cleaner expose them.

Defined once at import so several compactors in one process share them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

__all__ = [
    "BLOCKS_CLEANED",
    "BLOCKS_MARKED_FOR_DELETION",
    "BLOCKS_MARKED_FOR_NO_COMPACTION",
    "BUCKET_BLOCKS",
    "BUCKET_BLOCKS_MARKED",
    "BUCKET_BLOCKS_PARTIALS",
    "BUCKET_INDEX_LAST_UPDATE",
    "CLEANUP_COMPLETED",
    "CLEANUP_FAILED",
    "CLEANUP_LAST_SUCCESS",
    "CLEANUP_STARTED",
    "GROUP_COMPACTIONS",
    "GROUP_COMPACTION_FAILURES",
    "LAST_SUCCESSFUL_RUN",
    "RUNS_COMPLETED",
    "RUNS_FAILED",
    "RUNS_STARTED",
    "TENANTS_DISCOVERED",
    "TENANTS_FAILED",
    "TENANTS_SKIPPED",
    "TENANTS_SUCCEEDED",
]

RUNS_STARTED = Counter("cortex_compactor_runs_started_total",
                       "Total number of compaction runs started.")
RUNS_COMPLETED = Counter("cortex_compactor_runs_completed_total",
                         "Total number of compaction runs successfully completed.")
RUNS_FAILED = Counter("cortex_compactor_runs_failed_total",
                      "Total number of compaction runs failed.", ["reason"])
LAST_SUCCESSFUL_RUN = Gauge(
    "cortex_compactor_last_successful_run_timestamp_seconds",
    "Unix timestamp of the last successful compaction run.")
TENANTS_DISCOVERED = Gauge("cortex_compactor_tenants_discovered",
                           "Number of tenants discovered during the current compaction run.")
TENANTS_SKIPPED = Gauge("cortex_compactor_tenants_skipped",
                        "Number of tenants skipped during the current compaction run.")
TENANTS_SUCCEEDED = Gauge("cortex_compactor_tenants_processing_succeeded",
                          "Number of tenants successfully processed during the current "
                          "compaction run.")
TENANTS_FAILED = Gauge("cortex_compactor_tenants_processing_failed",
                       "Number of tenants failed processing during the current compaction run.")
GROUP_COMPACTIONS = Counter("cortex_compactor_group_compactions_total",
                            "Total number of group compaction attempts that resulted in a new "
                            "block.")
GROUP_COMPACTION_FAILURES = Counter("cortex_compactor_group_compactions_failures_total",
                                    "Total number of failed group compactions.")
BLOCKS_MARKED_FOR_DELETION = Counter(
    "cortex_compactor_blocks_marked_for_deletion_total",
    "Total number of blocks marked for deletion in compactor.", ["reason"])
CLEANUP_STARTED = Counter("cortex_compactor_block_cleanup_started_total",
                          "Total number of blocks cleanup runs started.")
CLEANUP_COMPLETED = Counter("cortex_compactor_block_cleanup_completed_total",
                            "Total number of blocks cleanup runs successfully completed.")
CLEANUP_FAILED = Counter("cortex_compactor_block_cleanup_failed_total",
                         "Total number of blocks cleanup runs failed.")
CLEANUP_LAST_SUCCESS = Gauge(
    "cortex_compactor_block_cleanup_last_successful_run_timestamp_seconds",
    "Unix timestamp of the last successful blocks cleanup run.")
BLOCKS_CLEANED = Counter("cortex_compactor_blocks_cleaned_total",
                         "Total number of blocks deleted.")
BUCKET_BLOCKS = Gauge("cortex_bucket_blocks_count",
                      "Total number of blocks in the bucket. Includes blocks marked for deletion, "
                      "but not partial blocks.", ["user"])
BUCKET_BLOCKS_MARKED = Gauge("cortex_bucket_blocks_marked_for_deletion_count",
                             "Total number of blocks marked for deletion in the bucket.", ["user"])
BUCKET_BLOCKS_PARTIALS = Gauge("cortex_bucket_blocks_partials_count",
                               "Total number of partial blocks.", ["user"])
BUCKET_INDEX_LAST_UPDATE = Gauge(
    "cortex_bucket_index_last_successful_update_timestamp_seconds",
    "Timestamp of the last successful update of a tenant's bucket index.", ["user"])
BLOCKS_MARKED_FOR_NO_COMPACTION = Counter(
    "cortex_compactor_blocks_marked_for_no_compaction_total",
    "Total number of blocks that were marked for no-compaction.", ["reason"])
