"""Core types every layer shares. Imports nothing else of Tidewell's."""

from tidewell.model.batch import SampleBatch
from tidewell.model.errors import TidewellError
from tidewell.model.exemplar import Exemplar, MetricMetadata, MetricType
from tidewell.model.histogram import (
    CUSTOM_BUCKETS_SCHEMA,
    CounterResetHint,
    Histogram,
    HistogramSamples,
)
from tidewell.model.labels import (
    METRIC_NAME,
    Labels,
    go_quote,
    is_legacy_label_name,
    is_legacy_metric_name,
    is_utf8_name,
    label_name_str,
    pairs_string,
    unescape_name,
)
from tidewell.model.matchers import Matcher, MatchType
from tidewell.model.samples import STALE_NAN_BITS, Series, is_stale_nan, stale_nan
from tidewell.model.storage import (
    Querier,
    Queryable,
    SelectHints,
    SelectLimitError,
    select_parts,
)
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
    "SelectHints",
    "SelectLimitError",
    "Series",
    "TidewellError",
    "go_quote",
    "is_legacy_label_name",
    "is_legacy_metric_name",
    "is_stale_nan",
    "is_utf8_name",
    "label_name_str",
    "pairs_string",
    "select_parts",
    "stale_nan",
    "unescape_name",
    "validate_tenant_id",
]
