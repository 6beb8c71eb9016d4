"""Errors and annotations, named and worded as Prometheus names them.

The API maps each error class to Prometheus's ``errorType`` and status code:
``ParseError``/``BadDataError`` → ``bad_data`` 400, ``ExecutionError`` →
``execution`` 422, ``QueryTimeoutError`` → ``timeout`` 503,
``QueryCanceledError`` → ``canceled`` 499, anything else → ``internal`` 500.
"""

from __future__ import annotations

__all__ = [
    "Annotations",
    "BadDataError",
    "ExecutionError",
    "ParseError",
    "PromQLError",
    "QueryCanceledError",
    "QueryLimitError",
    "QueryTimeoutError",
    "TooManySamplesError",
]


class PromQLError(Exception):
    """Base of every error a query can end with."""

    error_type = "internal"
    status = 500


class ParseError(PromQLError):
    """A syntax or type error; ``pos``/``end`` are 0-based offsets into the query."""

    error_type = "bad_data"
    status = 400

    def __init__(self, msg: str, pos: int = 0, end: int | None = None, query: str = "") -> None:
        super().__init__(msg)
        self.msg = msg
        self.pos = pos
        self.end = pos if end is None else end
        self.query = query

    def position(self) -> tuple[int, int]:
        """1-based line and column of ``pos`` in the query."""
        before = self.query[: self.pos]
        line = before.count("\n") + 1
        col = self.pos - (before.rfind("\n") + 1) + 1
        return line, col

    def __str__(self) -> str:
        line, col = self.position()
        return f"{line}:{col}: parse error: {self.msg}"


class BadDataError(PromQLError):
    error_type = "bad_data"
    status = 400


class ExecutionError(PromQLError):
    """The query is valid but evaluating it failed (Prometheus: ``execution``, 422)."""

    error_type = "execution"
    status = 422


class TooManySamplesError(ExecutionError):
    def __init__(self, where: str = "query execution") -> None:
        super().__init__(
            f"query processing would load too many samples into memory in {where}"
        )


class QueryLimitError(ExecutionError):
    """A per-query limit hit (Mimir's wording: message, error ID, strategy, the flag)."""

    STRATEGY = ("Consider reducing the time range and/or number of series selected by the "
                "query. One way to reduce the number of selected series is to add more label "
                "matchers to the query")

    def __init__(self, msg: str, error_id: str, flag: str, strategy: str = "") -> None:
        hint = f" {strategy}." if strategy else ""
        super().__init__(f"{msg} (err-mimir-{error_id}).{hint} To adjust the related per-tenant "
                         f"limit, configure -{flag}, or contact your service administrator.")


class QueryTimeoutError(PromQLError):
    error_type = "timeout"
    status = 503

    def __init__(self, where: str = "expression evaluation") -> None:
        super().__init__(f"query timed out in {where}")


class QueryCanceledError(PromQLError):
    error_type = "canceled"
    status = 499

    def __init__(self, where: str = "expression evaluation") -> None:
        super().__init__(f"query was canceled in {where}")


class Annotations:
    """Warnings and infos collected while evaluating, deduplicated, in order."""

    def __init__(self) -> None:
        self.warnings: dict[str, None] = {}
        self.infos: dict[str, None] = {}

    def warn(self, msg: str) -> None:
        self.warnings[f"PromQL warning: {msg}"] = None

    def info(self, msg: str) -> None:
        self.infos[f"PromQL info: {msg}"] = None

    def merge(self, other: Annotations) -> None:
        self.warnings.update(other.warnings)
        self.infos.update(other.infos)
