"""Prometheus rule files: parse, validate, and write back.

The checks and their wording are Prometheus's ``model/rulefmt`` (what
``promtool check rules`` prints): YAML errors and unknown fields as yaml.v3
reports them (``line N: field x not found in type rulefmt.Rule``), then one
error per problem, prefixed with the ``line:column`` of the YAML node at fault
(``5:11: group "g", rule 1, "r": could not parse expression: …``). Expressions
are parsed with our PromQL parser; templates with :mod:`tidewell.ruler.template`.
Where Prometheus has no node to point at (a missing ``record``/``alert``), we
point at the rule itself rather than at ``0:0``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from tidewell.model.errors import TidewellError
from tidewell.model.labels import METRIC_NAME, is_legacy_label_name, is_legacy_metric_name
from tidewell.promql.errors import ParseError
from tidewell.promql.parser import parse as parse_promql
from tidewell.ruler.template import TemplateError, check_template

__all__ = ["Rule", "RuleFormatError", "RuleGroup", "format_duration", "groups_to_yaml",
           "parse_duration", "parse_group", "parse_groups"]

_DURATION = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_UNITS_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)


class RuleFormatError(TidewellError, ValueError):
    """A rule file or group is invalid; ``errors`` lists every problem, each with its line."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def parse_duration(text: str) -> float:
    """Prometheus's ``model.ParseDuration`` (``1h30m``, ``5m``, ``0``), in seconds."""
    if text == "0":
        return 0.0
    m = _DURATION.match(text)
    if not text or m is None:
        raise ValueError(f'not a valid duration string: "{text}"' if text
                         else "empty duration string")
    return sum(int(g) * u for g, u in zip(m.groups(), _UNITS_MS, strict=True) if g) / 1000


def format_duration(seconds: float) -> str:
    """Prometheus's ``model.Duration.String`` (``1h30m``, ``0s``)."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    out = []
    for i, (unit, mult) in enumerate(zip(("y", "w", "d", "h", "m", "s", "ms"), _UNITS_MS,
                                         strict=True)):
        if i < 2 and ms % mult:
            continue
        if ms >= mult:
            out.append(f"{ms // mult}{unit}")
            ms %= mult
    return "".join(out)


@dataclass
class Rule:
    """One recording (``record``) or alerting (``alert``) rule."""

    expr: str
    record: str = ""
    alert: str = ""
    for_: float = 0.0
    keep_firing_for: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.alert or self.record

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"record": self.record} if self.record else {"alert": self.alert}
        out["expr"] = self.expr
        if self.for_:
            out["for"] = format_duration(self.for_)
        if self.keep_firing_for:
            out["keep_firing_for"] = format_duration(self.keep_firing_for)
        if self.labels:
            out["labels"] = dict(self.labels)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass
class RuleGroup:
    """Rules evaluated in order, every ``interval`` (0: the ruler's default)."""

    name: str
    rules: list[Rule] = field(default_factory=list)
    interval: float = 0.0
    query_offset: float | None = None
    limit: int = 0
    labels: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.interval:
            out["interval"] = format_duration(self.interval)
        if self.query_offset is not None:
            out["query_offset"] = format_duration(self.query_offset)
        if self.limit:
            out["limit"] = self.limit
        out["rules"] = [r.to_dict() for r in self.rules]
        if self.labels:
            out["labels"] = dict(self.labels)
        return out

    def to_yaml(self) -> str:
        return _dump(self.to_dict())


def groups_to_yaml(groups: dict[str, list[RuleGroup]]) -> str:
    """``namespace: [groups]`` as Mimir's ``GET /config/v1/rules`` answers."""
    return _dump({ns: [g.to_dict() for g in gs] for ns, gs in groups.items()})


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)


# -- decoding: yaml nodes → values, collecting yaml.v3-style type errors ------------------------

_RULE_FIELDS = ("record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations")
_GROUP_FIELDS = ("name", "interval", "query_offset", "limit", "rules", "labels")


@dataclass
class _Decoder:
    """Turns yaml nodes into values; type problems are collected as yaml.v3 words them."""

    errors: list[str] = field(default_factory=list)

    def fail(self, node: yaml.Node, msg: str) -> None:
        self.errors.append(f"line {node.start_mark.line + 1}: {msg}")

    def mapping(self, node: yaml.Node, go_type: str, known: tuple[str, ...]
                ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if _is_null(node):
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"cannot unmarshal {_tag(node)} into {go_type}")
            return {}
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else ""
            if name in out:
                self.fail(key, f'mapping key "{name}" already defined at line '
                               f"{out[name][0].start_mark.line + 1}")
            elif name not in known:
                self.fail(key, f"field {name} not found in type {go_type}")
            else:
                out[name] = (key, value)
        return out

    def string(self, node: yaml.Node | None) -> str:
        if node is None or _is_null(node):
            return ""
        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, f"cannot unmarshal {_tag(node)} into string")
            return ""
        return str(node.value)

    def integer(self, node: yaml.Node | None) -> int:
        text = self.string(node)
        if not text:
            return 0
        try:
            return int(text, 0)
        except ValueError:
            assert node is not None
            self.fail(node, f"cannot unmarshal {_tag(node)} `{text}` into int")
            return 0

    def duration(self, node: yaml.Node | None) -> float:
        text = self.string(node)
        if node is None or _is_null(node):
            return 0.0
        try:
            return parse_duration(text)
        except ValueError as exc:
            self.fail(node, str(exc))
            return 0.0

    def string_map(self, node: yaml.Node | None) -> dict[str, str]:
        if node is None or _is_null(node):
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"cannot unmarshal {_tag(node)} into map[string]string")
            return {}
        out: dict[str, str] = {}
        for key, value in node.value:
            name = self.string(key)
            if name in out:
                self.fail(key, f'mapping key "{name}" already defined')
            out[name] = self.string(value)
        return out

    def sequence(self, node: yaml.Node | None, go_type: str) -> list[yaml.Node]:
        if node is None or _is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, f"cannot unmarshal {_tag(node)} into {go_type}")
            return []
        return list(node.value)


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _tag(node: yaml.Node) -> str:
    return "!!" + node.tag.rsplit(":", 1)[-1] if node.tag.startswith("tag:yaml.org") else node.tag


@dataclass
class _Located:
    """A decoded group or rule with the nodes errors point at."""

    value: Any
    node: yaml.Node
    fields: dict[str, tuple[yaml.Node, yaml.Node]]
    children: list[_Located] = field(default_factory=list)


def _compose(content: str | bytes) -> yaml.Node | None:
    try:
        return yaml.compose(content, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark else ""
        raise RuleFormatError([f"yaml: {where}{exc.problem or exc.context}"]) from None
    except yaml.YAMLError as exc:
        raise RuleFormatError([f"yaml: {exc}"]) from None


def _decode_rule(dec: _Decoder, node: yaml.Node) -> _Located:
    f = dec.mapping(node, "rulefmt.Rule", _RULE_FIELDS)
    v = {k: f[k][1] for k in f}
    rule = Rule(
        expr=dec.string(v.get("expr")),
        record=dec.string(v.get("record")),
        alert=dec.string(v.get("alert")),
        for_=dec.duration(v.get("for")),
        keep_firing_for=dec.duration(v.get("keep_firing_for")),
        labels=dec.string_map(v.get("labels")),
        annotations=dec.string_map(v.get("annotations")),
    )
    return _Located(rule, node, f)


def _decode_group(dec: _Decoder, node: yaml.Node) -> _Located:
    f = dec.mapping(node, "rulefmt.RuleGroup", _GROUP_FIELDS)
    v = {k: f[k][1] for k in f}
    rules = [_decode_rule(dec, n) for n in dec.sequence(v.get("rules"), "[]rulefmt.Rule")]
    offset = v.get("query_offset")
    group = RuleGroup(
        name=dec.string(v.get("name")),
        rules=[r.value for r in rules],
        interval=dec.duration(v.get("interval")),
        query_offset=None if offset is None or _is_null(offset) else dec.duration(offset),
        limit=dec.integer(v.get("limit")),
        labels=dec.string_map(v.get("labels")),
    )
    return _Located(group, node, f, rules)


def _raise_unmarshal(dec: _Decoder) -> None:
    if dec.errors:
        raise RuleFormatError(["yaml: unmarshal errors:\n  " + "\n  ".join(dec.errors)])


# -- validation ---------------------------------------------------------------------------------


def _pos(node: yaml.Node) -> str:
    return f"{node.start_mark.line + 1}:{node.start_mark.column + 1}"


def _valid_metric_name(name: str, scheme: str) -> bool:
    return is_legacy_metric_name(name) if scheme == "legacy" else bool(name)


def _valid_label_name(name: str, scheme: str) -> bool:
    return is_legacy_label_name(name) if scheme == "legacy" else bool(name)


def _rule_problems(loc: _Located, scheme: str) -> list[tuple[str, str]]:
    """``(where, error)`` pairs for one rule, as Prometheus's ``Rule.Validate``."""
    r: Rule = loc.value
    node = {k: loc.fields[k][1] for k in loc.fields}

    def at(*names: str) -> str:
        found = [_pos(node[n]) for n in names if n in node]
        return ": ".join(found or [_pos(loc.node)]) + ": "

    out: list[tuple[str, str]] = []
    if r.record and r.alert:
        out.append((at("record", "alert"), "only one of 'record' and 'alert' must be set"))
    if not r.record and not r.alert:
        out.append((at("record", "alert"), "one of 'record' or 'alert' must be set"))
    if not r.expr:
        out.append((at("expr"), "field 'expr' must be set in rule"))
    else:
        try:
            parse_promql(r.expr)
        except ParseError as exc:
            out.append((at("expr"), f"could not parse expression: {exc}"))
    if r.record:
        if r.annotations:
            out.append((at("record"), "invalid field 'annotations' in recording rule"))
        if r.for_:
            out.append((at("record"), "invalid field 'for' in recording rule"))
        if r.keep_firing_for:
            out.append((at("record"), "invalid field 'keep_firing_for' in recording rule"))
        if not _valid_metric_name(r.record, scheme):
            out.append((at("record"), f"invalid recording rule name: {r.record}"))
        if "{" in r.record or "}" in r.record:
            out.append((at("record"), "braces present in the recording rule name; should it "
                                      f"be in expr?: {r.record}"))
    for k in r.labels:
        if not _valid_label_name(k, scheme) or k == METRIC_NAME:
            out.append((at("labels"), f"invalid label name: {k}"))
    for k in r.annotations:
        if not _valid_label_name(k, scheme):
            out.append((at("annotations"), f"invalid annotation name: {k}"))
    if r.alert:
        for kind, values in (("label", r.labels), ("annotation", r.annotations)):
            for k, text in values.items():
                try:
                    check_template(text)
                except TemplateError as exc:
                    out.append((at("labels" if kind == "label" else "annotations"),
                                f'{kind} "{k}": {exc}'))
    return out


def _group_problems(loc: _Located, scheme: str, seen: set[str]) -> list[str]:
    g: RuleGroup = loc.value
    out: list[str] = []
    if not g.name:
        out.append(f"{_pos(loc.node)}: Groupname must not be empty")
    if g.name in seen:
        out.append(f'{_pos(loc.node)}: groupname: "{g.name}" is repeated in the same file')
    seen.add(g.name)
    for k in g.labels:
        if not _valid_label_name(k, scheme) or k == METRIC_NAME:
            out.append(f"invalid label name: {k}")
    for i, rule_loc in enumerate(loc.children, 1):
        for where, err in _rule_problems(rule_loc, scheme):
            out.append(f'{where}group "{g.name}", rule {i}, "{rule_loc.value.name}": {err}')
    return out


def parse_groups(content: str | bytes, *, scheme: str = "legacy") -> list[RuleGroup]:
    """A rule file (``groups: [...]``); raises ``RuleFormatError`` listing every problem.

    ``scheme`` is the tenant's name validation scheme (``legacy`` or ``utf8``).
    """
    root = _compose(content)
    dec = _Decoder()
    top = dec.mapping(root, "rulefmt.RuleGroups", ("groups",)) if root is not None else {}
    nodes = dec.sequence(top["groups"][1], "[]rulefmt.RuleGroup") if "groups" in top else []
    groups = [_decode_group(dec, n) for n in nodes]
    _raise_unmarshal(dec)
    seen: set[str] = set()
    errors = [e for g in groups for e in _group_problems(g, scheme, seen)]
    if errors:
        raise RuleFormatError(errors)
    return [g.value for g in groups]


def parse_group(content: str | bytes, *, scheme: str = "legacy") -> RuleGroup:
    """One rule group, the body ``mimirtool rules load`` POSTs to ``/config/v1/rules/{ns}``."""
    root = _compose(content)
    if root is None or _is_null(root):
        raise RuleFormatError(["empty rule group: the body must be one rule group in YAML"])
    dec = _Decoder()
    loc = _decode_group(dec, root)
    _raise_unmarshal(dec)
    errors = _group_problems(loc, scheme, set())
    if errors:
        raise RuleFormatError(errors)
    return loc.value
