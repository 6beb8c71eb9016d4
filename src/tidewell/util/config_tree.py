"""Turns a tree of config dataclasses into flags, YAML and back.

One generic walker serves every component, so a setting declared once (in its
component's ``config.py``) is at the same time a YAML key, a single-dash flag,
a line of ``-help`` and an entry of ``/config``.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from tidewell.model.errors import TidewellError
from tidewell.util.config_fields import (
    InvalidValueError,
    format_duration,
    parse_duration,
    setting_meta,
)


class ConfigError(TidewellError):
    """A configuration problem, already phrased for the user (one line, names the setting)."""


@dataclass(frozen=True, slots=True)
class Leaf:
    """One setting: where it sits in the tree and how it is spelled."""

    path: tuple[str, ...]  # YAML path of field names
    flag: str  # without the leading dash
    type: Any
    kind: str | None
    choices: tuple[str, ...] | None
    help: str
    secret: bool
    default: Any

    @property
    def yaml_key(self) -> str:
        return ".".join(self.path)


def _field_type(owner: type, field: dataclasses.Field[Any]) -> Any:
    hints = typing.get_type_hints(owner)
    return hints[field.name]


def _is_dataclass_type(t: Any) -> bool:
    return isinstance(t, type) and dataclasses.is_dataclass(t)


def iter_leaves(cls: type, path: tuple[str, ...] = ()) -> Iterator[Leaf]:
    """Every setting in the tree under ``cls``, depth first in declaration order."""
    for field in dataclasses.fields(cls):
        ftype = _field_type(cls, field)
        if _is_dataclass_type(ftype):
            yield from iter_leaves(ftype, (*path, field.name))
            continue
        meta = setting_meta(field)
        if not meta:
            continue  # internal field, not user-settable
        fpath = (*path, field.name)
        flag = meta["flag"] or ".".join(fpath).replace("_", "-")
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            raise TypeError(f"config field {'.'.join(fpath)} has no default")
        yield Leaf(
            path=fpath,
            flag=flag,
            type=ftype,
            kind=meta["kind"],
            choices=meta["choices"],
            help=meta["help"],
            secret=meta["secret"],
            default=default,
        )


def _type_name(leaf: Leaf) -> str:
    if leaf.kind == "duration":
        return "duration"
    if leaf.kind == "list" or typing.get_origin(leaf.type) is list:
        return "comma-separated list of strings"
    if leaf.type is bool:
        return "boolean"
    if leaf.type is int:
        return "int"
    if leaf.type is float:
        return "float"
    return "string"


def convert(leaf: Leaf, raw: Any, source: str) -> Any:
    """Convert a flag string or YAML value to the setting's type, or raise ``ConfigError``."""
    try:
        value = _convert(leaf, raw)
    except (InvalidValueError, ValueError, TypeError) as exc:
        detail = str(exc) if isinstance(exc, InvalidValueError) else f"expected {_type_name(leaf)}"
        raise ConfigError(f"invalid value {raw!r} for {source}: {detail}") from None
    if leaf.choices is not None:
        values = value if isinstance(value, list) else [value]
        for v in values:
            if v not in leaf.choices:
                allowed = ", ".join(leaf.choices)
                raise ConfigError(f"invalid value {v!r} for {source}: allowed values are {allowed}")
    return value


def _convert(leaf: Leaf, raw: Any) -> Any:
    t = leaf.type
    if leaf.kind == "duration":
        if isinstance(raw, bool):
            raise TypeError
        if isinstance(raw, int | float):
            return float(raw)
        return parse_duration(str(raw))
    if leaf.kind == "list" or typing.get_origin(t) is list:
        if isinstance(raw, list):
            return [str(x) for x in raw]
        if isinstance(raw, str):
            return [p.strip() for p in raw.split(",") if p.strip()]
        raise TypeError
    if t is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "1", "t"):
            return True
        if isinstance(raw, str) and raw.lower() in ("false", "0", "f"):
            return False
        raise TypeError
    if t is int:
        if isinstance(raw, (bool, float)):
            raise TypeError
        return int(raw)
    if t is float:
        if isinstance(raw, bool):
            raise TypeError
        return float(raw)
    if t is str or (isinstance(t, types.UnionType) and str in typing.get_args(t)):
        if isinstance(raw, dict | list):
            raise TypeError
        return "" if raw is None else str(raw)
    raise TypeError


def get_path(root: Any, path: tuple[str, ...]) -> Any:
    obj = root
    for name in path:
        obj = getattr(obj, name)
    return obj


def set_path(root: Any, path: tuple[str, ...], value: Any) -> None:
    obj = root
    for name in path[:-1]:
        obj = getattr(obj, name)
    setattr(obj, path[-1], value)


def apply_yaml(root: Any, data: Mapping[str, Any], path: tuple[str, ...] = ()) -> None:
    """Apply a parsed YAML mapping onto the tree; unknown keys are errors."""
    cls = type(root)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key, raw in data.items():
        where = ".".join((*path, str(key)))
        field = fields.get(str(key))
        if field is None or (
            not setting_meta(field) and not _is_dataclass_type(_field_type(cls, field))
        ):
            raise ConfigError(f"unknown configuration key {where!r} in the config file")
        ftype = _field_type(cls, field)
        if _is_dataclass_type(ftype):
            if raw is None:
                continue
            if not isinstance(raw, Mapping):
                raise ConfigError(f"config key {where!r} must be a mapping, got {raw!r}")
            apply_yaml(getattr(root, field.name), raw, (*path, field.name))
            continue
        leaf = next(lf for lf in iter_leaves(cls, path) if lf.path == (*path, field.name))
        setattr(root, field.name, convert(leaf, raw, f"config key {where!r}"))


def render_value(leaf: Leaf, value: Any, mask_secrets: bool = True) -> Any:
    """A setting's value as it should appear in YAML output and ``/api/v1/status/flags``."""
    if leaf.secret and mask_secrets and value:
        return "********"
    if leaf.kind == "duration":
        return format_duration(value)
    return value


def flag_string(leaf: Leaf, value: Any) -> str:
    rendered = render_value(leaf, value)
    if isinstance(rendered, bool):
        return "true" if rendered else "false"
    if isinstance(rendered, list):
        return ",".join(rendered)
    return str(rendered)


def to_nested_dict(root: Any, *, only_changed: bool = False) -> dict[str, Any]:
    """The tree as nested YAML-ready dicts, secrets masked."""
    out: dict[str, Any] = {}
    for leaf in iter_leaves(type(root)):
        value = get_path(root, leaf.path)
        if only_changed and value == leaf.default:
            continue
        node = out
        for name in leaf.path[:-1]:
            node = node.setdefault(name, {})
        node[leaf.path[-1]] = render_value(leaf, value)
    return out
