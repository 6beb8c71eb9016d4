"""PromQL: parser, vectorised evaluator, functions and aggregations."""

from tidewell.promql.engine import Engine, EngineOptions, QueryResult, RangeSeries
from tidewell.promql.errors import (
    BadDataError,
    ExecutionError,
    ParseError,
    PromQLError,
    QueryCanceledError,
    QueryTimeoutError,
    TooManySamplesError,
)
from tidewell.promql.parser import parse

__all__ = [
    "BadDataError",
    "Engine",
    "EngineOptions",
    "ExecutionError",
    "ParseError",
    "PromQLError",
    "QueryCanceledError",
    "QueryResult",
    "QueryTimeoutError",
    "RangeSeries",
    "TooManySamplesError",
    "parse",
]
