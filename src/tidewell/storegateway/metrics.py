"""Store-gateway metrics, named as Mimir's store-gateway exposes them.

Defined once at import so several gateways in one process share them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "BLOCKS_LOADED",
    "BLOCKS_META_SYNCED",
    "BLOCK_DROPS",
    "BLOCK_LOADS",
    "BLOCK_LOAD_FAILURES",
    "CACHE_EVICTED",
    "CACHE_HITS",
    "CACHE_ITEMS",
    "CACHE_ITEMS_SIZE",
    "CACHE_REQUESTS",
    "CHUNKS_CACHE_HITS",
    "CHUNKS_CACHE_REQUESTS",
    "CORRUPTED_DATA",
    "INDEX_HEADER_LOADS",
    "LAST_SYNC",
    "SERIES_DATA_FETCHED_BYTES",
    "SERIES_DATA_TOUCHED",
    "SERIES_GET_ALL_DURATION",
    "SYNCS",
    "SYNC_FAILURES",
    "TENANTS_SYNCED",
]

# In-memory index cache (Thanos names, as Mimir exposes them).
CACHE_REQUESTS = Counter(
    "thanos_store_index_cache_requests_total",
    "Total number of items requests to the cache.",
    ["item_type"],
)
CACHE_HITS = Counter(
    "thanos_store_index_cache_hits_total",
    "Total number of items requests to the cache that were a hit.",
    ["item_type"],
)
CACHE_EVICTED = Counter(
    "thanos_store_index_cache_items_evicted_total",
    "Total number of items that were evicted from the index cache.",
    ["item_type"],
)
CACHE_ITEMS = Gauge(
    "thanos_store_index_cache_items",
    "Current number of items in the index cache.",
    ["item_type"],
)
CACHE_ITEMS_SIZE = Gauge(
    "thanos_store_index_cache_items_size_bytes",
    "Current byte size of items in the index cache.",
    ["item_type"],
)

# Chunks cache (pages of segment files).
CHUNKS_CACHE_REQUESTS = Counter(
    "cortex_bucket_store_chunks_cache_requests_total",
    "Chunk pages looked up in the in-memory chunks cache.",
)
CHUNKS_CACHE_HITS = Counter(
    "cortex_bucket_store_chunks_cache_hits_total",
    "Chunk pages found in the in-memory chunks cache.",
)

# Blocks and sync.
BLOCKS_LOADED = Gauge(
    "cortex_bucket_store_blocks_loaded", "Number of currently loaded blocks."
)
BLOCK_LOADS = Counter(
    "cortex_bucket_store_block_loads_total", "Total number of remote block loading attempts."
)
BLOCK_LOAD_FAILURES = Counter(
    "cortex_bucket_store_block_load_failures_total",
    "Total number of failed remote block loading attempts.",
)
BLOCK_DROPS = Counter(
    "cortex_bucket_store_block_drops_total", "Total number of local blocks that were dropped."
)
INDEX_HEADER_LOADS = Counter(
    "cortex_bucket_store_indexheader_lazy_load_total",
    "Total number of index files downloaded and opened on first use.",
)
SYNCS = Counter("cortex_blocks_meta_syncs_total", "Total blocks metadata synchronization attempts.")
SYNC_FAILURES = Counter(
    "cortex_blocks_meta_sync_failures_total", "Total blocks metadata synchronization failures."
)
LAST_SYNC = Gauge(
    "cortex_bucket_stores_blocks_last_successful_sync_timestamp_seconds",
    "Unix timestamp of the last successful blocks sync.",
)
TENANTS_SYNCED = Gauge(
    "cortex_bucket_stores_tenants_synced", "Number of tenants synced."
)

# Queries.
SERIES_DATA_TOUCHED = Counter(
    "cortex_bucket_store_series_data_touched",
    "Number of items of a data type touched to fulfill series requests.",
    ["data_type"],
)
SERIES_DATA_FETCHED_BYTES = Counter(
    "cortex_bucket_store_series_data_size_fetched_bytes",
    "Bytes of a data type fetched from the bucket to fulfill series requests.",
    ["data_type"],
)
SERIES_GET_ALL_DURATION = Histogram(
    "cortex_bucket_store_series_get_all_duration_seconds",
    "Time it takes until all per-block prepares and loads for a query are finished.",
    buckets=(0.001, 0.01, 0.1, 0.3, 0.6, 1, 3, 6, 9, 20, 30, 60, 90, 120),
)
CORRUPTED_DATA = Counter(
    "cortex_bucket_store_corrupted_data_total",
    "Block data read from the bucket that failed its checks (CRC, bounds).",
    ["data_type"],
)
BLOCKS_META_SYNCED = Gauge(
    "cortex_blocks_meta_synced",
    "Number of block metadata synced (state=duplicate: replaced by a compacted successor).",
    ["state"],
)
