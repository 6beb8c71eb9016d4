"""The in-memory TSDB head of one tenant: series, label index, chunks, querier."""

from tidewell.tsdb.head.errors import AppendResult, Reason
from tidewell.tsdb.head.head import INT64_MAX, INT64_MIN, Head
from tidewell.tsdb.head.head_read import HeadQuerier

__all__ = ["INT64_MAX", "INT64_MIN", "AppendResult", "Head", "HeadQuerier", "Reason"]
