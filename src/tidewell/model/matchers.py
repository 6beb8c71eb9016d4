"""Label matchers with Prometheus semantics (regexes are fully anchored)."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from functools import lru_cache

from tidewell.model.labels import Labels, go_quote, label_name_str


class MatchType(enum.Enum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> re.Pattern[str]:
    # Prometheus anchors regexes on both ends and lets "." match newlines.
    return re.compile(f"(?:{pattern})", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Matcher:
    """One ``name <op> value`` condition on a series' labels.

    An absent label matches as the empty string, exactly as in Prometheus.
    """

    type: MatchType
    name: str
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.type in (MatchType.REGEX, MatchType.NOT_REGEX):
            object.__setattr__(self, "_regex", _compile(self.value))

    @classmethod
    def equal(cls, name: str, value: str) -> Matcher:
        return cls(MatchType.EQUAL, name, value)

    def matches(self, value: str) -> bool:
        t = self.type
        if t is MatchType.EQUAL:
            return value == self.value
        if t is MatchType.NOT_EQUAL:
            return value != self.value
        assert self._regex is not None
        hit = self._regex.fullmatch(value) is not None
        return hit if t is MatchType.REGEX else not hit

    def matches_labels(self, labels: Labels) -> bool:
        return self.matches(labels.get(self.name))

    def matches_empty(self) -> bool:
        """Whether a series *without* this label is selected by the matcher."""
        return self.matches("")

    def __str__(self) -> str:
        """Prometheus 3's ``Matcher.String()``: ``a="b"``, ``"a.b"=~"c"``, ``""="x"``."""
        return f"{label_name_str(self.name)}{self.type.value}{go_quote(self.value)}"


def matches_all(matchers: list[Matcher], labels: Labels) -> bool:
    return all(m.matches_labels(labels) for m in matchers)
