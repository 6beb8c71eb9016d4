"""OTLP metric and attribute names → Prometheus names, per translation strategy.

The four strategies are Prometheus's ``otlptranslator`` ones, selected as Mimir
does with ``-distributor.otel-translation-strategy`` (or, when unset, derived
from ``-validation.name-validation-scheme`` and
``-distributor.otel-metric-suffixes-enabled``):

- ``UnderscoreEscapingWithSuffixes``: legacy names, characters outside
  ``[a-zA-Z0-9:]`` split the name into ``_``-joined tokens, unit suffixes
  (``s`` → ``_seconds``, ``By/s`` → ``_bytes_per_second``), ``_total`` for
  monotonic sums, ``_ratio`` for gauges of unit ``1``.
- ``UnderscoreEscapingWithoutSuffixes``: characters outside ``[a-zA-Z0-9:_]``
  become ``_``; no suffixes.
- ``NoUTF8EscapingWithSuffixes``: the name as sent plus the suffixes.
- ``NoTranslation``: the name as sent (``http.server.duration`` stays).

Attribute keys are escaped (``http.method`` → ``http_method``, ``1a`` →
``key_1a``, ``_a`` → ``key_a``) unless UTF-8 names are allowed, in which case
they are kept as sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["STRATEGIES", "OTLPNaming"]

# strategy -> (escape to legacy names, add unit/type suffixes)
STRATEGIES: dict[str, tuple[bool, bool]] = {
    "UnderscoreEscapingWithSuffixes": (True, True),
    "UnderscoreEscapingWithoutSuffixes": (True, False),
    "NoUTF8EscapingWithSuffixes": (False, True),
    "NoTranslation": (False, False),
}

_UNITS = {
    "d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds",
    "us": "microseconds", "ns": "nanoseconds", "By": "bytes", "KiBy": "kibibytes",
    "MiBy": "mebibytes", "GiBy": "gibibytes", "TiBy": "tibibytes", "KBy": "kilobytes",
    "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes", "m": "meters", "V": "volts",
    "A": "amperes", "J": "joules", "W": "watts", "g": "grams", "Cel": "celsius",
    "Hz": "hertz", "1": "", "%": "percent",
}
_PER_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week",
              "mo": "month", "y": "year"}
_NOT_TOKEN = re.compile(r"[^a-zA-Z0-9:]+")  # separators of the suffixed legacy form
_NOT_METRIC = re.compile(r"[^a-zA-Z0-9:_]+")  # separators of the unsuffixed legacy form
_NOT_LABEL = re.compile(r"[^a-zA-Z0-9_]")


def _unit_suffixes(unit: str) -> tuple[str, str]:
    """(main, per) unit words: ``By/s`` → ("bytes", "per_second"); ``{req}`` → ("", "")."""
    main, sep, per = unit.partition("/")
    main = main.strip()
    main_s = "" if not main or "{" in main or "}" in main else _UNITS.get(main, main)
    per_s = ""
    if sep and per.strip() and "{" not in per and "}" not in per:
        per_s = "per_" + _PER_UNITS.get(per.strip(), per.strip())
    return main_s, per_s


def _clean_unit(unit: str) -> str:
    return re.sub(r"__+", "_", re.sub(r"[^a-zA-Z0-9:]", "_", unit)).removeprefix("_")


def _trim_suffix(name: str, suffix: str) -> str:
    """Drop ``suffix`` plus the one delimiter before it, if the name is longer than that."""
    if name.endswith(suffix) and len(name) > len(suffix) + 1:
        return name[: -(len(suffix) + 1)]
    return name


@dataclass(frozen=True, slots=True)
class OTLPNaming:
    """How one tenant's OTLP names are translated (one of ``STRATEGIES``)."""

    escape: bool = False
    suffixes: bool = False

    @classmethod
    def from_strategy(cls, strategy: str) -> OTLPNaming:
        try:
            escape, suffixes = STRATEGIES[strategy]
        except KeyError:
            raise ValueError(f"unsupported OTLP translation strategy {strategy!r}") from None
        return cls(escape, suffixes)

    def metric_name(self, name: str, unit: str, kind: str) -> str:
        """Prometheus name of an OTLP metric; ``kind`` is gauge, counter, histogram or summary.

        An empty result (nothing usable in the name) is left for validation to refuse.
        """
        if self.escape:
            out = self._legacy_metric_name(name, unit, kind)
            return "" if out != name and not out.strip("_") else out
        if not self.suffixes:
            return name
        ratio = unit == "1" and kind == "gauge"
        total = kind == "counter"
        main, per = _unit_suffixes(unit)
        if ratio:
            name = _trim_suffix(name, "ratio")
        if total:
            name = _trim_suffix(name, "total")
        if per:
            name = _trim_suffix(name, per)
        if main and not name.endswith(main):
            name += "_" + main
        if per:
            name += "_" + per
        if total:
            name += "_total"
        if ratio:
            name += "_ratio"
        return name

    def _legacy_metric_name(self, name: str, unit: str, kind: str) -> str:
        if not self.suffixes:
            out = "_".join(p for p in _NOT_METRIC.split(name) if p)
            return "_" + out if out[:1].isdigit() else out
        tokens = [p for p in _NOT_TOKEN.split(name) if p]
        main, per = _unit_suffixes(unit)
        main, per = _clean_unit(main), _clean_unit(per)
        if main in tokens:
            main = ""
        if per == "per_":
            per = ""
        else:
            per = per.removesuffix("_")
            if per in tokens:
                per = ""
        if per:
            main = main.removesuffix("_")
        tokens += [s for s in (main, per) if s]
        if kind == "counter":
            tokens = [t for t in tokens if t != "total"] + ["total"]
        if unit == "1" and kind == "gauge":
            tokens = [t for t in tokens if t != "ratio"] + ["ratio"]
        out = "_".join(tokens)
        return "_" + out if out[:1].isdigit() else out

    def label_name(self, key: str) -> str:
        """OTLP attribute key → label name (kept as sent when UTF-8 names are allowed)."""
        if not self.escape or not key:
            return key
        out = _NOT_LABEL.sub("_", key)
        if out[0].isdigit():
            out = "key_" + out
        elif out.startswith("_") and not out.startswith("__"):
            out = "key" + out
        return "" if out != key and not out.strip("_") else out
