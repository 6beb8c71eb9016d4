"""PromQL tokens. A hand-written scanner: small, and it knows every position."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from tidewell.promql.errors import ParseError

__all__ = ["Token", "parse_duration_ms", "tokenize"]

KEYWORDS = {
    "and", "or", "unless", "atan2", "by", "without", "on", "ignoring", "group_left",
    "group_right", "bool", "offset", "smoothed", "anchored", "fill", "fill_left", "fill_right",
}
AGGREGATORS = {
    "sum", "avg", "count", "min", "max", "group", "stddev", "stdvar", "topk", "bottomk",
    "count_values", "quantile", "limitk", "limit_ratio",
}

_DUR_UNITS = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000,
              "w": 7 * 86400000, "y": 365 * 86400000}
_DURATION_RE = re.compile(r"(?:[0-9]+(?:ms|s|m|h|d|w|y))+")
_DUR_PART = re.compile(r"([0-9]+)(ms|s|m|h|d|w|y)")
_NUMBER_RE = re.compile(
    r"0[xX][0-9a-fA-F]+|(?:[0-9]+(?:_[0-9]+)*\.?[0-9]*(?:_[0-9]+)*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
)
_IDENT_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_IDENT_NOCOLON_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_OPS = ["</", ">/", "==", "!=", ">=", "<=", "=~", "!~", "+", "-", "*", "/", "%", "^", "=", "<", ">",
        "(", ")", "{", "}", "[", "]", ",", ":", "@"]


@dataclass(slots=True)
class Token:
    kind: str  # NUMBER DURATION STRING IDENT OP EOF
    text: str
    pos: int
    value: float | str | None = None

    @property
    def end(self) -> int:
        return self.pos + len(self.text)


def parse_duration_ms(text: str) -> int:
    """``1h30m`` → 5400000. Units must appear in decreasing order, each once."""
    total, last = 0, 10**20
    pos = 0
    for m in _DUR_PART.finditer(text):
        if m.start() != pos:
            raise ValueError(f'not a valid duration string: "{text}"')
        size = _DUR_UNITS[m.group(2)]
        if size >= last:
            raise ValueError(f'not a valid duration string: "{text}"')
        last = size
        total += int(m.group(1)) * size
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f'not a valid duration string: "{text}"')
    return total


def _unquote(src: str, start: int) -> tuple[str, int]:
    """Read a quoted string beginning at ``start``; returns value and end offset."""
    q = src[start]
    i = start + 1
    if q == "`":
        j = src.find("`", i)
        if j < 0:
            raise ParseError("unterminated raw string", start, len(src))
        return src[i:j], j + 1
    # Go strings are bytes: "\xff" is one (invalid UTF-8) byte. Build bytes and decode
    # with surrogateescape so such bytes survive and can be rejected as label names.
    out = bytearray()
    n = len(src)
    while i < n:
        c = src[i]
        if c == q:
            return out.decode("utf-8", "surrogateescape"), i + 1
        if c == "\n":
            break
        if c == "\\":
            i += 1
            if i >= n:
                break
            e = src[i]
            simple = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
                      "v": "\v", "\\": "\\", "'": "'", '"': '"'}
            if e in simple:
                if e in "'\"" and e != q:
                    raise ParseError("unknown escape sequence", i - 1, i + 1)
                out += simple[e].encode()
                i += 1
                continue
            if e in "01234567":
                digits = src[i:i + 3]
                if len(digits) < 3 or not all(d in "01234567" for d in digits):
                    raise ParseError("invalid octal escape", i - 1, i + 3)
                out.append(int(digits, 8) & 0xFF)
                i += 3
                continue
            width = {"x": 2, "u": 4, "U": 8}.get(e)
            if width is None:
                raise ParseError("unknown escape sequence", i - 1, i + 1)
            digits = src[i + 1:i + 1 + width]
            try:
                code = int(digits, 16)
                if len(digits) != width:
                    raise ValueError
            except ValueError:
                raise ParseError("invalid escape sequence", i - 1, i + 1 + width) from None
            if e == "x":
                out.append(code)
            else:
                if code > 0x10FFFF or 0xD800 <= code < 0xE000:
                    raise ParseError("escape sequence is an invalid Unicode code point", i - 1,
                                     i + 1 + width)
                out += chr(code).encode("utf-8", "surrogatepass")
            i += 1 + width
            continue
        out += c.encode("utf-8", "surrogateescape")
        i += 1
    raise ParseError("unterminated quoted string", start, n)


_BRACE_OPS = ("!=", "!~", "=~", "=", ",", "}")


def _inside_braces(src: str, i: int, toks: list[Token]) -> int:
    """One token of a label matcher list, as Prometheus's ``lexInsideBraces`` allows:
    label names without ``:``, quoted names and values, matcher operators, ``,`` and ``}``."""
    c = src[i]
    if c.isalpha() or c == "_":
        m = _IDENT_NOCOLON_RE.match(src, i)
        assert m is not None
        toks.append(Token("IDENT", m.group(0), i, m.group(0)))
        return m.end()
    if c in "\"'`":
        val, j = _unquote(src, i)
        toks.append(Token("STRING", src[i:j], i, val))
        return j
    for op in _BRACE_OPS:
        if src.startswith(op, i):
            toks.append(Token("OP", op, i, op))
            return i + len(op)
    raise ParseError(f"unexpected character inside braces: {c!r}", i, len(src))


def tokenize(src: str) -> list[Token]:
    toks: list[Token] = []
    i, n = 0, len(src)
    bracket = 0  # inside [...], ":" separates range and step instead of joining names
    braces = False  # inside {...}: only label matchers
    while i < n:
        c = src[i]
        if c in " \t\r\n":
            i += 1
            continue
        if braces:
            i = _inside_braces(src, i, toks)
            braces = toks[-1].text != "}" or toks[-1].kind != "OP"
            continue
        if c == "#":
            j = src.find("\n", i)
            i = n if j < 0 else j
            continue
        if c in "\"'`":
            val, j = _unquote(src, i)
            toks.append(Token("STRING", src[i:j], i, val))
            i = j
            continue
        if c.isdigit() or (c == "." and i + 1 < n and src[i + 1].isdigit()):
            m = _DURATION_RE.match(src, i)
            if m and not (m.end() < n and (src[m.end()].isalnum() or src[m.end()] in "_.")):
                text = m.group(0)
                try:
                    ms = parse_duration_ms(text)
                except ValueError as e:
                    raise ParseError(str(e), i, m.end()) from None
                toks.append(Token("DURATION", text, i, ms / 1000.0))
                i = m.end()
                continue
            m = _NUMBER_RE.match(src, i)
            assert m is not None
            text = m.group(0)
            if m.end() < n and (src[m.end()].isalpha() or src[m.end()] == "_"):
                j = m.end()
                while j < n and (src[j].isalnum() or src[j] == "_"):
                    j += 1
                raise ParseError(f'bad number or duration syntax: "{src[i:j]}"', i, j)
            try:
                val = float(int(text, 16)) if text[:2] in ("0x", "0X") else float(
                    text.replace("_", ""))
            except ValueError:
                raise ParseError(f'bad number or duration syntax: "{text}"', i, m.end()) from None
            toks.append(Token("NUMBER", text, i, val))
            i = m.end()
            continue
        if c.isalpha() or c == "_" or (c == ":" and not bracket):
            m = (_IDENT_NOCOLON_RE if bracket else _IDENT_RE).match(src, i)
            assert m is not None
            text = m.group(0)
            low = text.lower()
            if low in ("inf", "nan"):
                toks.append(Token("NUMBER", text, i, math.inf if low == "inf" else math.nan))
            else:
                toks.append(Token("IDENT", text, i, text))
            i = m.end()
            continue
        for op in _OPS:
            if src.startswith(op, i):
                toks.append(Token("OP", op, i, op))
                if op == "{":
                    braces = True
                elif op == "[":
                    bracket += 1
                elif op == "]" and bracket:
                    bracket -= 1
                i += len(op)
                break
        else:
            if c == "!":
                raise ParseError("unexpected character after '!': " + repr(src[i + 1:i + 2]),
                                 i, i + 1)
            raise ParseError(f"unexpected character: {c!r}", i, i + 1)
    if braces:
        raise ParseError("unexpected end of input inside braces", n, n)
    toks.append(Token("EOF", "", n, None))
    return toks
