"""Per-tenant limits (YAML ``limits``) with Mimir's names, flags and defaults.

``Limits`` holds the defaults; ``Overrides`` answers per-tenant getters from the
runtime-config file (``overrides: {tenant: {limit: value}}``), reloaded
periodically. A bad file keeps the previous values, logs an error and bumps
``cortex_runtime_config_last_reload_successful``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import yaml

from tidewell.distributor.metrics import RUNTIME_CONFIG_HASH, RUNTIME_CONFIG_RELOAD_OK
from tidewell.protocol.otlp_names import STRATEGIES
from tidewell.util.config_fields import parse_duration, setting
from tidewell.util.services import Supervisor

__all__ = [
    "EMBEDDED_DEFAULTS",
    "NAME_VALIDATION_SCHEMES",
    "OTEL_TRANSLATION_STRATEGIES",
    "Limits",
    "Overrides",
    "RuntimeConfigConfig",
]

log = logging.getLogger("tidewell.runtime_config")

NAME_VALIDATION_SCHEMES = ("legacy", "utf8")
OTEL_TRANSLATION_STRATEGIES = tuple(STRATEGIES)


EMBEDDED_DEFAULTS: dict[str, Any] = {
    "ingestion_rate": math.inf,
    "max_global_series_per_user": 0,
}
"""Defaults that replace Mimir's on the embedded log (one process, no Kafka), unless set.

Mimir's 10,000 samples/s (burst 200,000) guards a shared cluster from one tenant; on one
machine it only costs a newcomer data: a stock Prometheus with 1M active series at a 15 s
interval sends ~67k samples/s and far more while it catches up after an outage, and
Prometheus 2.x drops what gets a 429 unless ``retry_on_http_429`` is set. So the rate is
unlimited there (``inf``, as Go's ``rate.Inf``: the burst is not consulted); the
process's own capacity (``-distributor.instance-limits.*``, answered 503, which clients
retry) holds a writer back instead.

The series limit is off for the same newcomer: the ingester applies it after the push was
acknowledged (ingest storage), so Mimir's 150,000 would silently drop 85% of a 1M-series
Prometheus. Memory is the bound instead: 1M series with 4 samples each held 0.9 GB RSS.
"""


@dataclass
class Limits:
    ingestion_rate: float = field(
        default=10000.0,
        metadata=setting(
            "Per-tenant ingestion rate limit in samples per second; inf for no limit. On "
            "the embedded log (one process, no -ingest-storage.kafka.address) the default "
            "is inf: Mimir's default guards a shared cluster, and on one machine it would "
            "answer 429 to a stock Prometheus with 1M active series (~67k samples/s at "
            "15 s, more while catching up), which Prometheus 2.x then drops.",
            flag="distributor.ingestion-rate-limit",
        ),
    )
    ingestion_burst_size: int = field(
        default=200000,
        metadata=setting(
            "Per-tenant allowed ingestion burst size (in number of samples). Ignored when "
            "the rate is inf.",
            flag="distributor.ingestion-burst-size",
        ),
    )
    max_label_names_per_series: int = field(
        default=30,
        metadata=setting(
            "Maximum number of label names per series.",
            flag="validation.max-label-names-per-series",
        ),
    )
    max_label_names_per_info_series: int = field(
        default=80,
        metadata=setting(
            "Maximum number of label names per info series. Has no effect if less than the "
            "value of the maximum number of label names per series option.",
            flag="validation.max-label-names-per-info-series",
        ),
    )
    max_label_name_length: int = field(
        default=1024,
        metadata=setting(
            "Maximum length accepted for label names", flag="validation.max-length-label-name"
        ),
    )
    max_label_value_length: int = field(
        default=2048,
        metadata=setting(
            "Maximum length accepted for label value. This setting also applies to the metric "
            "name", flag="validation.max-length-label-value",
        ),
    )
    # Mimir's own default is "legacy"; Prometheus 3 accepts UTF-8 names by default and
    # OTLP and Prometheus 3 clients send them, so Tidewell keeps them unless told not to.
    name_validation_scheme: str = field(
        default="utf8",
        metadata=setting(
            "Validation scheme to use for metric and label names. Distributors reject time "
            "series that do not adhere to this scheme.",
            flag="validation.name-validation-scheme",
            choices=NAME_VALIDATION_SCHEMES,
        ),
    )
    otel_metric_suffixes_enabled: bool = field(
        default=False,
        metadata=setting(
            "Whether to enable automatic suffixes to names of metrics ingested through OTLP.",
            flag="distributor.otel-metric-suffixes-enabled",
        ),
    )
    otel_convert_histograms_to_nhcb: bool = field(
        default=False,
        metadata=setting(
            "Whether to convert OTel explicit histograms into native histograms with custom "
            "buckets.",
            flag="distributor.otel-convert-histograms-to-nhcb",
        ),
    )
    otel_translation_strategy: str = field(
        default="",
        metadata=setting(
            "Translation strategy to apply in OTLP endpoint for metric and label names. If "
            "unspecified (the default), the strategy is derived from "
            "-validation.name-validation-scheme and -distributor.otel-metric-suffixes-enabled.",
            flag="distributor.otel-translation-strategy",
            choices=("", *OTEL_TRANSLATION_STRATEGIES),
        ),
    )
    max_metadata_length: int = field(
        default=1024,
        metadata=setting(
            "Maximum length accepted for metric metadata. Metadata refers to Metric Name, HELP "
            "and UNIT. Longer metadata is dropped except for HELP which is truncated.",
            flag="validation.max-metadata-length",
        ),
    )
    creation_grace_period: float = field(
        default=600.0,
        metadata=setting(
            "Controls how far into the future incoming samples and exemplars are accepted "
            "compared to the wall clock. Any sample or exemplar will be rejected if its "
            "timestamp is greater than '(now + creation_grace_period)'.",
            flag="validation.create-grace-period",
            kind="duration",
        ),
    )
    past_grace_period: float = field(
        default=0.0,
        metadata=setting(
            "Controls how far into the past incoming samples and exemplars are accepted "
            "compared to the wall clock. Any sample or exemplar will be rejected if its "
            "timestamp is lower than '(now - OOO window - past_grace_period)'. 0 to disable.",
            flag="validation.past-grace-period",
            kind="duration",
        ),
    )
    max_global_series_per_user: int = field(
        default=150000,
        metadata=setting(
            "The maximum number of in-memory series per tenant, across the cluster before "
            "replication. 0 to disable. On the embedded log (one process, no "
            "-ingest-storage.kafka.address) the default is 0: series over the limit are "
            "dropped after their push was acknowledged, so Mimir's default would silently "
            "lose most of a 1M-series Prometheus; memory bounds it instead (about 1 KB "
            "per active series).",
            flag="ingester.max-global-series-per-user",
        ),
    )
    native_histograms_ingestion_enabled: bool = field(
        default=True,
        metadata=setting(
            "Enable ingestion of native histogram samples. If false, native histogram samples "
            "are ignored without an error (counted in cortex_discarded_samples_total with "
            "reason native_histogram_ingestion_disabled).",
            flag="ingester.native-histograms-ingestion-enabled",
        ),
    )
    max_native_histogram_buckets: int = field(
        default=0,
        metadata=setting(
            "Maximum number of buckets per native histogram sample. 0 to disable the limit.",
            flag="validation.max-native-histogram-buckets",
        ),
    )
    reduce_native_histogram_over_max_buckets: bool = field(
        default=True,
        metadata=setting(
            "Whether to reduce or reject native histogram samples with more buckets than the "
            "configured limit.",
            flag="validation.reduce-native-histogram-over-max-buckets",
        ),
    )
    max_exemplars_per_series_per_request: int = field(
        default=0,
        metadata=setting(
            "Maximum number of exemplars per series per request. 0 to disable limit in "
            "request. The exceeding exemplars are dropped.",
            flag="distributor.max-exemplars-per-series-per-request",
        ),
    )
    # Mimir defaults to 0, which drops every exemplar a client sends. Tidewell keeps
    # what it acknowledges, so it keeps Prometheus's default exemplar buffer instead.
    max_global_exemplars_per_user: int = field(
        default=100_000,
        metadata=setting(
            "The maximum number of exemplars in memory, across the cluster. 0 to disable "
            "exemplars ingestion. Tidewell's default is Prometheus's exemplar buffer size "
            "(100000: about 40MB per tenant in each zone, measured 375 bytes per exemplar "
            "with a trace ID), not Mimir's 0: with 0 the "
            "exemplars a client sends are dropped, so /api/v1/query_exemplars answers nothing. "
            "When full, the oldest exemplars are evicted.",
            flag="ingester.max-global-exemplars-per-user",
        ),
    )
    max_global_metadata_per_user: int = field(
        default=0,
        metadata=setting(
            "The maximum number of metrics with metadata per tenant, across the cluster. 0 to "
            "disable.",
            flag="ingester.max-global-metadata-per-user",
        ),
    )
    max_global_metadata_per_metric: int = field(
        default=0,
        metadata=setting(
            "The maximum number of metadata per metric, across the cluster. 0 to disable.",
            flag="ingester.max-global-metadata-per-metric",
        ),
    )
    ingestion_partitions_tenant_shard_size: int = field(
        default=0,
        metadata=setting(
            "The number of partitions a tenant's data should be sharded to when using the "
            "ingest storage. Tenants are sharded across partitions using shuffle-sharding. "
            "0 disables shuffle sharding and tenant is sharded across all partitions.",
            flag="ingest-storage.ingestion-partition-tenant-shard-size",
        ),
    )
    out_of_order_time_window: float = field(
        default=0.0,
        metadata=setting(
            "Non-zero value enables out-of-order support for most recent samples that are "
            "within the time window in relation to the TSDB's maximum time.",
            flag="ingester.out-of-order-time-window",
            kind="duration",
        ),
    )
    compactor_blocks_retention_period: float = field(
        default=0.0,
        metadata=setting(
            "Delete blocks containing samples older than the specified retention period. "
            "0 to disable.",
            flag="compactor.blocks-retention-period",
            kind="duration",
        ),
    )
    compactor_partial_block_deletion_delay: float = field(
        default=86400.0,
        metadata=setting(
            "If a partial block (unfinished block without meta.json file) hasn't been "
            "modified for this time, it will be marked for deletion. 0 to disable.",
            flag="compactor.partial-block-deletion-delay",
            kind="duration",
        ),
    )
    compactor_split_and_merge_shards: int = field(
        default=0,
        metadata=setting(
            "The number of shards to use when splitting blocks. 0 to disable splitting.",
            flag="compactor.split-and-merge-shards",
        ),
    )
    compactor_tenant_shard_size: int = field(
        default=0,
        metadata=setting(
            "Max number of compactors that can compact blocks for single tenant. 0 to "
            "disable the limit and use all compactors.",
            flag="compactor.compactor-tenant-shard-size",
        ),
    )
    compactor_split_groups: int = field(
        default=1,
        metadata=setting(
            "Number of groups that blocks for splitting should be grouped into. Each group "
            "of blocks is then split separately.",
            flag="compactor.split-groups",
        ),
    )
    ingest_storage_read_consistency: str = field(
        default="eventual",
        metadata=setting(
            "The default consistency level to enforce for queries when using the ingest "
            "storage. Supports values: strong, eventual.",
            flag="ingest-storage.read-consistency",
            choices=("eventual", "strong"),
        ),
    )

    # Query limits: per tenant as in Mimir (pkg/util/validation/limits.go), flag names kept.
    max_fetched_series_per_query: int = field(
        default=0,
        metadata=setting(
            "The maximum number of unique series for which a query can fetch samples from "
            "ingesters and store-gateways. 0 to disable.",
            flag="querier.max-fetched-series-per-query",
        ),
    )
    max_fetched_chunk_bytes_per_query: int = field(
        default=0,
        metadata=setting(
            "The maximum size of all chunks in bytes that a query can fetch from ingesters "
            "and store-gateways (counted as the fetched samples' decoded size). 0 to disable.",
            flag="querier.max-fetched-chunk-bytes-per-query",
        ),
    )
    max_estimated_memory_consumption_per_query: int = field(
        default=0,
        metadata=setting(
            "The maximum estimated memory a single query can consume at once, in bytes: "
            "fetched samples plus intermediate and final results held, checked before each "
            "allocation. 0 to disable.",
            flag="querier.max-estimated-memory-consumption-per-query",
        ),
    )
    max_partial_query_length: float = field(
        default=0.0,
        metadata=setting(
            "Limit the time range for partial queries at the querier level (each selector's "
            "time range including lookback and range). 0 to disable.",
            flag="querier.max-partial-query-length",
            kind="duration",
        ),
    )
    max_total_query_length: float = field(
        default=0.0,
        metadata=setting(
            "Limit the total query time range (end - start time). This limit is enforced in "
            "the query-frontend on the received query. 0 to disable.",
            flag="query-frontend.max-total-query-length",
            kind="duration",
        ),
    )
    ruler_max_rules_per_rule_group: int = field(
        default=20,
        metadata=setting(
            "Maximum number of rules per rule group per-tenant. 0 to disable.",
            flag="ruler.max-rules-per-rule-group",
        ),
    )
    ruler_max_rule_groups_per_tenant: int = field(
        default=70,
        metadata=setting(
            "Maximum number of rule groups per-tenant. 0 to disable.",
            flag="ruler.max-rule-groups-per-tenant",
        ),
    )

    # Cardinality analysis (Mimir's names, flags and defaults).
    cardinality_analysis_enabled: bool = field(
        default=False,
        metadata=setting("Enables endpoints used for cardinality analysis.",
                         flag="querier.cardinality-analysis-enabled"),
    )
    label_names_and_values_results_max_size_bytes: int = field(
        default=400 * 1024 * 1024,
        metadata=setting(
            "Maximum size in bytes of distinct label names and values. When querier receives "
            "response from ingester, it merges the response with responses from other "
            "ingesters. This maximum size limit is applied to the merged(distinct) results. "
            "If the limit is reached, an error is returned.",
            flag="querier.label-names-and-values-results-max-size-bytes",
        ),
    )
    label_values_max_cardinality_label_names_per_request: int = field(
        default=100,
        metadata=setting(
            "Maximum number of label names allowed to be queried in a single "
            "/api/v1/cardinality/label_values API call.",
            flag="querier.label-values-max-cardinality-label-names-per-request",
        ),
    )
    cardinality_analysis_max_results: int = field(
        default=500,
        metadata=setting(
            "Maximum number of series that can be requested in a single cardinality API "
            "request.",
            flag="querier.cardinality-api-max-series-limit",
        ),
    )
    active_series_results_max_size_bytes: int = field(
        default=400 * 1024 * 1024,
        metadata=setting(
            "Maximum size of an active series request result in bytes. 0 to disable.",
            flag="querier.active-series-results-max-size-bytes",
        ),
    )
    # Query sharding and PromQL semantics: per tenant as in Mimir.
    query_sharding_total_shards: int = field(
        default=16,
        metadata=setting(
            "The amount of shards to use when doing parallelisation via query sharding by "
            "tenant. 0 to disable query sharding for tenant. Used only with "
            "-query-frontend.parallelize-shardable-queries.",
            flag="query-frontend.query-sharding-total-shards",
        ),
    )
    query_sharding_max_sharded_queries: int = field(
        default=128,
        metadata=setting(
            "The max number of sharded queries that can be run for a given received query. "
            "0 to disable limit.",
            flag="query-frontend.query-sharding-max-sharded-queries",
        ),
    )
    query_sharding_max_regexp_size_bytes: int = field(
        default=4096,
        metadata=setting(
            "Disable query sharding for any query containing a regular expression matcher "
            "longer than the configured number of bytes. 0 to disable the limit.",
            flag="query-frontend.query-sharding-max-regexp-size-bytes",
        ),
    )
    enable_delayed_name_removal: bool = field(
        default=False,
        metadata=setting(
            "Enable Prometheus's delayed name removal: functions drop the metric name only "
            "when the result is shaped, so rate({__name__=~\".+_total\"}[1m]) works. Off as "
            "in Prometheus: series that lose their name and collide fail the query.",
            flag="querier.enable-delayed-name-removal",
        ),
    )

    def with_overrides(self, values: dict[str, Any]) -> Limits:
        """A copy with YAML-style overrides applied (durations as strings allowed)."""
        known = {f.name: f for f in dataclasses.fields(self)}
        changes: dict[str, Any] = {}
        for k, v in values.items():
            f = known.get(k)
            if f is None:
                raise ValueError(f"unknown limit {k!r}")
            kind = f.metadata.get("tidewell", {}).get("kind")
            if kind == "duration" and isinstance(v, str):
                v = parse_duration(v)
            current = getattr(self, k)
            if isinstance(current, bool):
                if not isinstance(v, bool):
                    raise ValueError(f"limit {k!r} must be a boolean")
            elif isinstance(current, int):
                v = int(v)
            elif isinstance(current, float):
                v = float(v)
            else:
                v = str(v)
            changes[k] = v
        limits = dataclasses.replace(self, **changes)
        limits.validate()
        return limits

    def otel_strategy(self) -> str:
        """Mimir's ``OTelTranslationStrategy``: the explicit one, else derived from the
        name validation scheme and whether suffixes are enabled."""
        if self.otel_translation_strategy:
            return self.otel_translation_strategy
        with_suffixes = self.otel_metric_suffixes_enabled
        if self.name_validation_scheme == "legacy":
            if with_suffixes:
                return "UnderscoreEscapingWithSuffixes"
            return "UnderscoreEscapingWithoutSuffixes"
        return "NoUTF8EscapingWithSuffixes" if with_suffixes else "NoTranslation"

    def validate(self) -> None:
        """Refuse settings Tidewell cannot honour, rather than lose data later."""
        if self.name_validation_scheme not in NAME_VALIDATION_SCHEMES:
            raise ValueError(
                f"unsupported name validation scheme {self.name_validation_scheme!r}, "
                f"supported values: {', '.join(NAME_VALIDATION_SCHEMES)}"
            )
        strategy = self.otel_translation_strategy
        if strategy and strategy not in OTEL_TRANSLATION_STRATEGIES:
            raise ValueError(f"unsupported OTLP translation strategy {strategy!r}")
        if strategy in ("NoUTF8EscapingWithSuffixes", "NoTranslation") and (
            self.name_validation_scheme == "legacy"
        ):
            raise ValueError(
                f"OTLP translation strategy {strategy!r} is not allowed when UTF8 is disabled"
            )


@dataclass
class RuntimeConfigConfig:
    """YAML ``runtime_config``."""

    file: str = field(
        default="",
        metadata=setting(
            "Comma separated list of yaml files with the configuration that can be updated at "
            "runtime. Runtime config files will be merged from left to right.",
            flag="runtime-config.file",
        ),
    )
    period: float = field(
        default=10.0,
        metadata=setting(
            "How often to check runtime config files.",
            flag="runtime-config.reload-period",
            kind="duration",
        ),
    )


class Overrides:
    """Per-tenant limits: defaults plus the runtime-config file's ``overrides`` section."""

    def __init__(self, defaults: Limits | None = None, config: RuntimeConfigConfig | None = None):
        self.defaults = defaults or Limits()
        self.config = config or RuntimeConfigConfig()
        self._tenants: dict[str, Limits] = {}
        self.supervisor = Supervisor("runtime-config")
        """The reload timer: a failure other than a bad file fails the module."""
        self._last_hash = ""
        if self.config.file:
            self.reload()

    def for_tenant(self, tenant: str) -> Limits:
        return self._tenants.get(tenant, self.defaults)

    def tenant_ids(self) -> list[str]:
        """Tenants with overrides in the runtime config."""
        return sorted(self._tenants)

    def set_tenant_overrides(self, mapping: dict[str, dict[str, Any]]) -> None:
        """Replace all overrides at once (validated first; on error nothing changes)."""
        self._tenants = {t: self.defaults.with_overrides(v or {}) for t, v in mapping.items()}

    def reload(self) -> bool:
        """Re-read the runtime-config file(s); keep old values if any is invalid."""
        try:
            merged: dict[str, dict[str, Any]] = {}
            digest = hashlib.sha256()
            for path in [p.strip() for p in self.config.file.split(",") if p.strip()]:
                with open(path, "rb") as fh:
                    raw = fh.read()
                digest.update(raw)
                doc = yaml.safe_load(raw) or {}
                if not isinstance(doc, dict):
                    raise ValueError("runtime config must be a YAML mapping")
                ov = doc.get("overrides") or {}
                if not isinstance(ov, dict):
                    raise ValueError("'overrides' must map tenant IDs to limits")
                for tenant, values in ov.items():
                    if values is not None and not isinstance(values, dict):
                        raise ValueError(f"overrides for tenant {tenant!r} must be a mapping")
                    merged.setdefault(str(tenant), {}).update(values or {})
            self.set_tenant_overrides(merged)
        except Exception as e:
            log.error("failed to load runtime config file=%s err=%s", self.config.file, e)
            RUNTIME_CONFIG_RELOAD_OK.set(0)
            return False
        RUNTIME_CONFIG_RELOAD_OK.set(1)
        h = digest.hexdigest()
        if h != self._last_hash:
            self._last_hash = h
            RUNTIME_CONFIG_HASH.labels(sha256=h).set(1)
            log.info("runtime config loaded file=%s tenants=%d", self.config.file, len(merged))
        return True

    async def _reload(self) -> None:
        self.reload()

    def start(self) -> None:
        """Reload every ``period`` seconds (when a file is configured) until ``stop``."""
        if self.config.file and not self.supervisor.running:
            self.supervisor.every("reload", self.config.period, self._reload)

    async def stop(self) -> None:
        await self.supervisor.stop()
