"""Core types every layer shares. Imports nothing else of Tidewell's."""

from tidewell.model.batch import SampleBatch
from tidewell.model.labels import METRIC_NAME, Labels
from tidewell.model.matchers import Matcher, MatchType
from tidewell.model.samples import STALE_NAN_BITS, Series, is_stale_nan, stale_nan
from tidewell.model.storage import Querier, Queryable
from tidewell.model.tenant import InvalidTenantIDError, validate_tenant_id

__all__ = [
    "METRIC_NAME",
    "STALE_NAN_BITS",
    "InvalidTenantIDError",
    "Labels",
    "MatchType",
    "Matcher",
    "Querier",
    "Queryable",
    "SampleBatch",
    "Series",
    "is_stale_nan",
    "stale_nan",
    "validate_tenant_id",
]
