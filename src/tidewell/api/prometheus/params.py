"""Request parameters as Prometheus parses them: times, durations, ``match[]``."""

from __future__ import annotations

import math
import re
from datetime import datetime

from tidewell.model import Matcher
from tidewell.promql import nodes as ast
from tidewell.promql.errors import BadDataError, ParseError
from tidewell.promql.lexer import parse_duration_ms
from tidewell.promql.parser import parse

__all__ = ["parse_duration_param", "parse_matchers", "parse_time"]

MIN_TIME_MS = -9223309901257974  # Prometheus's minTime / maxTime, in ms
MAX_TIME_MS = 9223309901257974


def parse_time(value: str, name: str) -> int:
    """Unix seconds (float) or RFC3339 → milliseconds."""
    try:
        f = float(value)
        if math.isnan(f) or math.isinf(f):
            raise ValueError
        return round(f * 1000)
    except ValueError:
        pass
    if value in ("-292273086-05-16T16:47:06Z", "0001-01-01T00:00:00Z"):
        return MIN_TIME_MS
    if value == "292277025-08-18T07:12:54.999999999Z":
        return MAX_TIME_MS
    try:
        text = re.sub(r"(\.\d{6})\d+", r"\1", value.replace("Z", "+00:00"))
        dt = datetime.fromisoformat(text)
        if dt.tzinfo is None:
            raise ValueError
        return round(dt.timestamp() * 1000)
    except ValueError:
        raise BadDataError(
            f'invalid parameter "{name}": cannot parse "{value}" to a valid timestamp') from None


def parse_duration_param(value: str, name: str) -> int:
    """Float seconds or a Prometheus duration → milliseconds."""
    try:
        f = float(value)
        if math.isnan(f) or math.isinf(f):
            raise ValueError
        if f * 1000 > 2**63 - 1:
            raise BadDataError(
                f'invalid parameter "{name}": cannot parse "{value}" to a valid duration. '
                "It overflows int64")
        return round(f * 1000)
    except ValueError:
        pass
    try:
        return parse_duration_ms(value)
    except ValueError:
        raise BadDataError(
            f'invalid parameter "{name}": cannot parse "{value}" to a valid duration') from None


def parse_matchers(values: list[str]) -> list[list[Matcher]]:
    out = []
    for v in values:
        try:
            expr = parse(v)
        except ParseError as e:
            raise BadDataError(f'invalid parameter "match[]": {e}') from None
        if not isinstance(expr, ast.VectorSelector):
            raise BadDataError('invalid parameter "match[]": 1:1: parse error: expected vector '
                               "selector")
        out.append(expr.matchers)
    return out
