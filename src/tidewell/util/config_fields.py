"""How a component declares its settings: plain dataclasses plus ``setting()`` metadata.

Each component keeps its config beside its code (``tidewell/<pkg>/config.py``) as a
dataclass whose fields all have defaults and carry ``setting(...)`` metadata. The
YAML key is the field name; the flag is the dotted YAML path with ``_`` turned into
``-`` (``blocks_storage.tsdb.block_ranges_period`` ↔
``-blocks-storage.tsdb.block-ranges-period``) unless ``flag=`` names it, as for
``server.log_level`` ↔ ``-log.level``. ``tidewell.config`` assembles the tree.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

from tidewell.model.errors import TidewellError

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w|y)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
    "y": 365 * 86400.0,
}


class InvalidValueError(TidewellError, ValueError):
    """A setting's value cannot be parsed or is not allowed."""


def setting(
    help: str,
    *,
    flag: str | None = None,
    kind: str | None = None,
    choices: Sequence[str] | None = None,
    secret: bool = False,
) -> dict[str, Any]:
    """Field metadata for one setting.

    ``kind`` is ``"duration"`` for float seconds written as Go durations ("15s"),
    ``"list"`` for comma-separated strings; otherwise the field's type decides.
    """
    return {
        "tidewell": {
            "help": help,
            "flag": flag,
            "kind": kind,
            "choices": tuple(choices) if choices else None,
            "secret": secret,
        }
    }


def setting_meta(field: dataclasses.Field[Any]) -> dict[str, Any]:
    return field.metadata.get("tidewell", {}) if field.metadata else {}


def parse_duration(text: str) -> float:
    """Parse a Go/Prometheus duration ("1h30m", "15s", "500ms", "0") into seconds."""
    s = text.strip()
    if s in ("0", ""):
        return 0.0
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise InvalidValueError(f'invalid duration "{text}" (expected e.g. 15s, 5m, 2h, 1h30m)')
    return total


def format_duration(seconds: float) -> str:
    """Render seconds as Go renders a ``time.Duration`` (``2h0m0s``, ``1m30s``, ``500ms``)."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        ms = seconds * 1000
        return f"{ms:g}ms"
    whole = int(seconds)
    frac = seconds - whole
    h, rem = divmod(whole, 3600)
    m, s = divmod(rem, 60)
    sec = f"{s + frac:g}s"
    if h:
        return f"{h}h{m}m{sec}"
    if m:
        return f"{m}m{sec}"
    return sec
