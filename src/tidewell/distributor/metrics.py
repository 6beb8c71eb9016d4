"""Distributor and runtime-config metrics, defined once per process (Mimir's names)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECEIVED_SAMPLES = Counter(
    "cortex_distributor_received_samples",
    "The total number of received samples, excluding rejected and deduped samples.",
    ["user"],
)
RECEIVED_EXEMPLARS = Counter(
    "cortex_distributor_received_exemplars",
    "The total number of received exemplars, excluding rejected and deduped exemplars.",
    ["user"],
)
RECEIVED_METADATA = Counter(
    "cortex_distributor_received_metadata",
    "The total number of received metadata, excluding rejected.",
    ["user"],
)
RECEIVED_REQUESTS = Counter(
    "cortex_distributor_received_requests",
    "The total number of received requests, excluding rejected and deduped requests.",
    ["user"],
)
DISCARDED_SAMPLES = Counter(
    "cortex_discarded_samples",
    "The total number of samples that were discarded.",
    ["user", "reason"],
)
DISCARDED_METADATA = Counter(
    "cortex_discarded_metadata",
    "The total number of metadata that were discarded.",
    ["user", "reason"],
)
DISCARDED_EXEMPLARS = Counter(
    "cortex_discarded_exemplars",
    "The total number of exemplars that were discarded.",
    ["user", "reason"],
)
REQUEST_DURATION = Histogram(
    "cortex_distributor_push_duration_seconds",
    "Time spent handling a push request, including the wait for the log acknowledgement.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RUNTIME_CONFIG_RELOAD_OK = Gauge(
    "cortex_runtime_config_last_reload_successful",
    "Whether the last runtime-config reload attempt was successful.",
)
RUNTIME_CONFIG_HASH = Gauge(
    "cortex_runtime_config_hash",
    "Hash of the currently active runtime configuration file.",
    ["sha256"],
)
INFLIGHT_PUSH_REQUESTS = Gauge(
    "cortex_distributor_inflight_push_requests",
    "Current number of inflight push requests in distributor.",
)
INFLIGHT_PUSH_REQUESTS_BYTES = Gauge(
    "cortex_distributor_inflight_push_requests_bytes",
    "Current sum of inflight push requests in distributor in bytes.",
)
