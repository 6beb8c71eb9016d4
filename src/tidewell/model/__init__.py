"""Core types every layer shares. Imports nothing else of Tidewell's."""

from tidewell.model.labels import METRIC_NAME, Labels
from tidewell.model.matchers import Matcher, MatchType
from tidewell.model.samples import STALE_NAN_BITS, Series, is_stale_nan, stale_nan
from tidewell.model.storage import Querier, Queryable

__all__ = [
    "METRIC_NAME",
    "STALE_NAN_BITS",
    "Labels",
    "MatchType",
    "Matcher",
    "Querier",
    "Queryable",
    "Series",
    "is_stale_nan",
    "stale_nan",
]
