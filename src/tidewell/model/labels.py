"""Label sets: immutable, sorted by name, hashable, cheap to compare.

Also the naming rules every layer shares: the legacy name scheme
(``[a-zA-Z_][a-zA-Z0-9_]*``, plus ``:`` in metric names), the UTF-8 scheme of
Prometheus 3 (any non-empty valid UTF-8), and Go's ``strconv.Quote`` that
Prometheus uses when it prints names and values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = [
    "METRIC_NAME",
    "Labels",
    "go_quote",
    "is_legacy_label_name",
    "is_legacy_metric_name",
    "is_utf8_name",
    "label_name_str",
    "pairs_string",
    "unescape_name",
]

METRIC_NAME = "__name__"

_LEGACY_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_LEGACY_METRIC = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def is_legacy_label_name(name: str) -> bool:
    """Prometheus's legacy label name rule: ``[a-zA-Z_][a-zA-Z0-9_]*``."""
    return _LEGACY_LABEL.fullmatch(name) is not None


def is_legacy_metric_name(name: str) -> bool:
    """Prometheus's legacy metric name rule: ``[a-zA-Z_:][a-zA-Z0-9_:]*``."""
    return _LEGACY_METRIC.fullmatch(name) is not None


def is_utf8_name(name: str) -> bool:
    """The UTF-8 scheme (Prometheus 3's default): any non-empty, valid UTF-8 name.

    Strings decoded with ``surrogateescape`` keep invalid bytes as lone surrogates,
    which do not encode, so they are refused here.
    """
    if not name:
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_ESCAPES = {
    "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
    "\v": "\\v", "\\": "\\\\", '"': '\\"',
}


def go_quote(s: str) -> str:
    """Go's ``strconv.Quote``: what Prometheus prints for label values and quoted names.

    Non-printable runes become ``\\xNN``/``\\uNNNN``/``\\UNNNNNNNN``; bytes that were not
    valid UTF-8 (kept as surrogate escapes) become ``\\xNN``.
    """
    out = ['"']
    for ch in s:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
            continue
        c = ord(ch)
        if 0xDC80 <= c <= 0xDCFF:  # an undecodable byte (surrogateescape)
            out.append(f"\\x{c - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif c < 0x20 or c == 0x7F:
            out.append(f"\\x{c:02x}")
        elif c < 0x10000:  # a lone surrogate is not a rune: Go prints U+FFFD
            out.append(f"\\u{0xFFFD if 0xD800 <= c < 0xE000 else c:04x}")
        else:
            out.append(f"\\U{c:08x}")
    out.append('"')
    return "".join(out)


def label_name_str(name: str) -> str:
    """A label name as Prometheus 3 prints it: bare when legacy-valid, else quoted."""
    return name if is_legacy_label_name(name) else go_quote(name)


def unescape_name(name: str) -> str:
    """Undo Prometheus's value-encoding escaping (``U__a_2e_b`` → ``a.b``, ``__`` → ``_``).

    Clients that cannot put a UTF-8 name in a URL path send it this way; a name
    without the ``U__`` prefix, or not validly escaped, is returned unchanged.
    """
    if not name.startswith("U__"):
        return name
    body, out, i, n = name[3:], [], 0, len(name) - 3
    while i < n:
        c = body[i]
        i += 1
        if c != "_":
            out.append(c)
            continue
        if i >= n:
            return name
        if body[i] == "_":
            out.append("_")
            i += 1
            continue
        end = body.find("_", i)
        digits = body[i:end]
        if end < 0 or len(digits) > 6 or not all(d in "0123456789abcdefABCDEF" for d in digits):
            return name
        code = int(digits, 16)
        if code > 0x10FFFF or 0xD800 <= code < 0xE000:
            return name
        out.append(chr(code))
        i = end + 1
    return "".join(out)


def pairs_string(pairs: Iterable[tuple[str, str]]) -> str:
    """Prometheus's ``labels.String()`` over pairs in the order given (raw, unvalidated)."""
    return "{" + ", ".join(f"{label_name_str(n)}={go_quote(v)}" for n, v in pairs) + "}"


class Labels(tuple[tuple[str, str], ...]):
    """A label set as a tuple of ``(name, value)`` pairs sorted by name.

    Being a tuple makes it hashable and usable as a dict key for series lookups;
    sorting makes equal sets compare equal regardless of input order.
    Empty values are dropped, as Prometheus treats an empty value as absent.
    """

    __slots__ = ()

    def __new__(cls, pairs: Iterable[tuple[str, str]] = ()) -> Labels:
        return super().__new__(cls, sorted((n, v) for n, v in pairs if v != ""))

    @classmethod
    def from_dict(cls, mapping: Mapping[str, str]) -> Labels:
        return cls(mapping.items())

    @classmethod
    def from_sorted(cls, pairs: Iterable[tuple[str, str]]) -> Labels:
        """Build without sorting or filtering: the caller guarantees both."""
        return super().__new__(cls, pairs)

    def get(self, name: str, default: str = "") -> str:
        for n, v in self:
            if n == name:
                return v
        return default

    def has(self, name: str) -> bool:
        return any(n == name for n, _ in self)

    @property
    def name(self) -> str:
        """The metric name (``__name__``), or "" when absent."""
        return self.get(METRIC_NAME)

    def to_dict(self) -> dict[str, str]:
        return dict(self)

    def names(self) -> list[str]:
        return [n for n, _ in self]

    def without(self, *names: str) -> Labels:
        drop = set(names)
        return Labels.from_sorted(p for p in self if p[0] not in drop)

    def only(self, *names: str) -> Labels:
        keep = set(names)
        return Labels.from_sorted(p for p in self if p[0] in keep)

    def with_label(self, name: str, value: str) -> Labels:
        return Labels([*(p for p in self if p[0] != name), (name, value)])

    def __str__(self) -> str:
        """As a PromQL selector: ``up{job="x"}``, or ``{"http.requests", job="x"}``."""
        name = self.name
        inner = [f"{label_name_str(n)}={go_quote(v)}" for n, v in self if n != METRIC_NAME]
        if name and not is_legacy_metric_name(name):
            return "{" + ", ".join([go_quote(name), *inner]) + "}"
        if name and not inner:
            return name
        return name + "{" + ", ".join(inner) + "}"

    def prom_string(self) -> str:
        """Prometheus's ``labels.String()``: ``{__name__="up", "a.b"="x"}``."""
        return pairs_string(self)

    def __repr__(self) -> str:
        return f"Labels({self!s})"
