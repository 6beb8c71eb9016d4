"""Core types every layer shares. Imports nothing else of Tidewell's."""

from tidewell.model.batch import SampleBatch
from tidewell.model.exemplar import Exemplar, MetricMetadata, MetricType
from tidewell.model.histogram import (
    CUSTOM_BUCKETS_SCHEMA,
    CounterResetHint,
    Histogram,
    HistogramSamples,
)
from tidewell.model.labels import METRIC_NAME, Labels
from tidewell.model.matchers import Matcher, MatchType
from tidewell.model.samples import STALE_NAN_BITS, Series, is_stale_nan, stale_nan
from tidewell.model.storage import Querier, Queryable
from tidewell.model.tenant import InvalidTenantIDError, validate_tenant_id

__all__ = [
    "CUSTOM_BUCKETS_SCHEMA",
    "METRIC_NAME",
    "STALE_NAN_BITS",
    "CounterResetHint",
    "Exemplar",
    "Histogram",
    "HistogramSamples",
    "InvalidTenantIDError",
    "Labels",
    "MatchType",
    "Matcher",
    "MetricMetadata",
    "MetricType",
    "Querier",
    "Queryable",
    "SampleBatch",
    "Series",
    "is_stale_nan",
    "stale_nan",
    "validate_tenant_id",
]
