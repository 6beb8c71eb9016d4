"""PromQL syntax tree: plain dataclasses, each able to print itself back as PromQL.

Printing matters beyond debugging: the conformance runner re-runs instant
queries with ``@`` attached to every selector, which needs ``str(expr)`` to give
a query that parses back to the same tree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tidewell.model import METRIC_NAME, Matcher, MatchType, go_quote, label_name_str

__all__ = [
    "AggregateExpr",
    "BinaryExpr",
    "Call",
    "DurationExpr",
    "Expr",
    "MatrixSelector",
    "NumberLiteral",
    "ParenExpr",
    "StringLiteral",
    "SubqueryExpr",
    "UnaryExpr",
    "VectorMatching",
    "VectorSelector",
    "walk",
]

# Value types, as Prometheus names them in error messages.
SCALAR, VECTOR, MATRIX, STRING = "scalar", "instant vector", "range vector", "string"


class Expr:
    """Base of every node. ``pos`` is the 0-based offset of the node's first char."""

    pos: int
    end: int

    def type(self) -> str:
        raise NotImplementedError


def _fmt_float(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Inf" if v > 0 else "-Inf"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def fmt_duration_ms(ms: int) -> str:
    """Render milliseconds as PromQL duration (``1h30m``, ``500ms``)."""
    if ms == 0:
        return "0s"
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    out = []
    for unit, size in (("y", 365 * 86400000), ("w", 7 * 86400000), ("d", 86400000),
                       ("h", 3600000), ("m", 60000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            n, ms = divmod(ms, size)
            out.append(f"{n}{unit}")
    return sign + "".join(out)


@dataclass(eq=False)
class DurationExpr(Expr):
    """An arithmetic duration (``5m+1m``, ``step()``), kept as a tiny tree.

    ``op`` is "num" (``value`` seconds), "step"/"range"/"start"/"end" (query
    context), a binary operator (``lhs``/``rhs``), "neg" (``lhs``), or
    "min_of"/"max_of".
    """

    op: str
    value: float = 0.0
    lhs: DurationExpr | None = None
    rhs: DurationExpr | None = None
    text: str = ""
    pos: int = 0
    end: int = 0

    def eval(self, ctx: dict[str, float]) -> float:
        """Seconds, given the query context (``step``/``range`` in seconds)."""
        op = self.op
        if op == "num":
            return self.value
        if op in ("step", "range"):
            return ctx.get(op, 0.0)
        if op == "paren":
            assert self.lhs is not None
            return self.lhs.eval(ctx)
        if op == "neg":
            assert self.lhs is not None
            return -self.lhs.eval(ctx)
        assert self.lhs is not None and self.rhs is not None
        a, b = self.lhs.eval(ctx), self.rhs.eval(ctx)
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            if b == 0:
                raise ZeroDivisionError("division by zero")
            return a / b
        if op == "%":
            if b == 0:
                raise ZeroDivisionError("modulo by zero")
            return math.fmod(a, b)
        if op == "^":
            return a**b
        if op == "min_of":
            return min(a, b)
        if op == "max_of":
            return max(a, b)
        raise ValueError(op)

    def is_literal(self) -> bool:
        return self.op == "num"

    def __str__(self) -> str:
        op = self.op
        if op == "num":
            return self.text or fmt_duration_ms(round(self.value * 1000))
        if op in ("step", "range"):
            return f"{op}()"
        if op == "paren":
            return f"({self.lhs})"
        if op == "neg":
            return f"-{self.lhs}"
        if op in ("min_of", "max_of"):
            return f"{op}({self.lhs}, {self.rhs})"
        return f"{self.lhs} {op} {self.rhs}"


@dataclass(eq=False)
class NumberLiteral(Expr):
    value: float
    pos: int = 0
    end: int = 0
    text: str = ""

    def type(self) -> str:
        return SCALAR

    def __str__(self) -> str:
        if self.value == math.inf:
            return "+Inf"  # as Prometheus prints it, whatever the source spelled
        return self.text or _fmt_float(self.value)


@dataclass(eq=False)
class StringLiteral(Expr):
    value: str
    pos: int = 0
    end: int = 0

    def type(self) -> str:
        return STRING

    def __str__(self) -> str:
        return go_quote(self.value)


@dataclass(eq=False)
class AtOffset:
    """The ``@`` and ``offset`` modifiers shared by selectors and subqueries."""

    offset: DurationExpr | None = None
    at: float | None = None  # seconds
    at_keyword: str | None = None  # "start" / "end"

    def fmt(self) -> str:
        out = ""
        if self.at is not None:
            out += f" @ {self.at:.3f}"
        elif self.at_keyword:
            out += f" @ {self.at_keyword}()"
        if self.offset is not None:
            text = str(self.offset)
            if self.offset.op not in ("num",) and not text.startswith("("):
                text = f"({text})"
            out += f" offset {text}"
        return out


@dataclass(eq=False)
class VectorSelector(Expr):
    name: str
    matchers: list[Matcher]
    mods: AtOffset = field(default_factory=AtOffset)
    anchored: bool = False
    smoothed: bool = False
    pos: int = 0
    end: int = 0

    def type(self) -> str:
        return VECTOR

    def selector_str(self) -> str:
        """Prometheus 3's printing: ``name{a="b",c="d"}``, matchers sorted, names quoted
        when not legacy-valid (``{__name__="a.b","c.d"="e"}``)."""
        ms = sorted(str(m) for m in self.matchers
                    if not (self.name and m.name == METRIC_NAME and m.type is MatchType.EQUAL
                            and m.value == self.name))
        if not ms:
            return self.name
        return self.name + "{" + ",".join(ms) + "}"

    def modifiers_str(self) -> str:
        """What follows the selector (or its range): ``@``, ``offset``, anchored, smoothed."""
        return (self.mods.fmt() + (" anchored" if self.anchored else "")
                + (" smoothed" if self.smoothed else ""))

    def __str__(self) -> str:
        return self.selector_str() + self.modifiers_str()


@dataclass(eq=False)
class MatrixSelector(Expr):
    vs: VectorSelector
    range: DurationExpr
    pos: int = 0
    end: int = 0

    def type(self) -> str:
        return MATRIX

    def __str__(self) -> str:
        return f"{self.vs.selector_str()}[{self.range}]" + self.vs.modifiers_str()


@dataclass(eq=False)
class SubqueryExpr(Expr):
    expr: Expr
    range: DurationExpr
    step: DurationExpr | None
    mods: AtOffset = field(default_factory=AtOffset)
    pos: int = 0
    end: int = 0

    def type(self) -> str:
        return MATRIX

    def __str__(self) -> str:
        step = str(self.step) if self.step is not None else ""
        return f"{self.expr}[{self.range}:{step}]" + self.mods.fmt()


@dataclass(eq=False)
class Call(Expr):
    func: str
    args: list[Expr]
    pos: int = 0
    end: int = 0
    ret: str = VECTOR

    def type(self) -> str:
        return self.ret

    def __str__(self) -> str:
        return f"{self.func}({', '.join(str(a) for a in self.args)})"


@dataclass(eq=False)
class AggregateExpr(Expr):
    op: str
    expr: Expr
    param: Expr | None = None
    grouping: list[str] = field(default_factory=list)
    without: bool = False
    has_grouping: bool = False
    pos: int = 0
    end: int = 0

    def type(self) -> str:
        return VECTOR

    def __str__(self) -> str:
        out = self.op
        if self.has_grouping or self.without:
            kw = "without" if self.without else "by"
            out += f" {kw} ({', '.join(label_name_str(g) for g in self.grouping)}) "
        args = f"{self.param}, {self.expr}" if self.param is not None else str(self.expr)
        return f"{out}({args})"


@dataclass(eq=False)
class VectorMatching:
    card: str = "one-to-one"  # one-to-one, many-to-one, one-to-many, many-to-many
    on: bool = False
    labels: list[str] = field(default_factory=list)
    include: list[str] = field(default_factory=list)
    explicit: bool = False  # on()/ignoring() written
    fill_left: float | None = None
    fill_right: float | None = None


@dataclass(eq=False)
class BinaryExpr(Expr):
    op: str
    lhs: Expr
    rhs: Expr
    return_bool: bool = False
    matching: VectorMatching | None = None
    pos: int = 0
    end: int = 0
    op_pos: int = 0

    def type(self) -> str:
        if self.lhs.type() == SCALAR and self.rhs.type() == SCALAR:
            return SCALAR
        return VECTOR

    def __str__(self) -> str:
        mods = ""
        if self.return_bool:
            mods += " bool"
        m = self.matching
        if m is not None:
            if m.explicit or m.on:
                kw = "on" if m.on else "ignoring"
                mods += f" {kw} ({', '.join(label_name_str(x) for x in m.labels)})"
            if m.card in ("many-to-one", "one-to-many"):
                kw = "group_left" if m.card == "many-to-one" else "group_right"
                mods += f" {kw} ({', '.join(label_name_str(x) for x in m.include)})"
            if m.fill_left is not None and m.fill_right is not None \
                    and _same(m.fill_left, m.fill_right):
                mods += f" fill ({_fmt_float(m.fill_left)})"
            else:
                if m.fill_left is not None:
                    mods += f" fill_left ({_fmt_float(m.fill_left)})"
                if m.fill_right is not None:
                    mods += f" fill_right ({_fmt_float(m.fill_right)})"
        return f"{self.lhs} {self.op}{mods} {self.rhs}"


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@dataclass(eq=False)
class UnaryExpr(Expr):
    op: str
    expr: Expr
    pos: int = 0
    end: int = 0

    def type(self) -> str:
        return self.expr.type()

    def __str__(self) -> str:
        return f"{self.op}{self.expr}"


@dataclass(eq=False)
class ParenExpr(Expr):
    expr: Expr
    pos: int = 0
    end: int = 0

    def type(self) -> str:
        return self.expr.type()

    def __str__(self) -> str:
        return f"({self.expr})"


def children(node: Any) -> list[Expr]:
    if isinstance(node, (ParenExpr, UnaryExpr)):
        return [node.expr]
    if isinstance(node, BinaryExpr):
        return [node.lhs, node.rhs]
    if isinstance(node, AggregateExpr):
        return [node.expr] if node.param is None else [node.param, node.expr]
    if isinstance(node, Call):
        return list(node.args)
    if isinstance(node, SubqueryExpr):
        return [node.expr]
    if isinstance(node, MatrixSelector):
        return [node.vs]
    return []


def walk(node: Expr, path: tuple[Expr, ...] = ()) -> Any:
    """Yield ``(node, path)`` pairs depth-first, ``path`` being the ancestors."""
    yield node, path
    for c in children(node):
        yield from walk(c, (*path, node))
