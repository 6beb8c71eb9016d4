"""Label sets: immutable, sorted by name, hashable, cheap to compare."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

METRIC_NAME = "__name__"


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
        name = self.name
        inner = ", ".join(f'{n}="{_escape(v)}"' for n, v in self if n != METRIC_NAME)
        if name and not inner:
            return name
        return f"{name}{{{inner}}}"

    def __repr__(self) -> str:
        return f"Labels({self!s})"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
