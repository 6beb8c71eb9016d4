"""The subset of Go's text/template that Prometheus alert labels and annotations use.

No Python library renders Go templates faithfully, so this is our own, for the
documented subset and nothing more:

* text and ``{{ pipeline }}`` actions, trim markers ``{{-``/``-}}``, comments ``{{/* */}}``;
* the alert's data: ``$labels``/``.Labels``, ``$value``/``.Value``,
  ``$externalLabels``/``.ExternalLabels``, ``$externalURL``/``.ExternalURL``,
  field access (``$labels.instance``), variables (``{{ $x := … }}``);
* ``if``/``else if``/``else``/``end`` and ``with``, pipes (``$value | humanize``);
* functions: ``humanize``, ``humanize1024``, ``humanizeDuration``,
  ``humanizePercentage``, ``humanizeTimestamp``, ``printf``, ``toUpper``,
  ``toLower``, ``title``, ``reReplaceAll``, ``match``, ``stripPort``, ``eq``, ``ne``,
  ``lt``, ``le``, ``gt``, ``ge``, ``and``, ``or``, ``not``, ``len``, ``index``.

Anything else (``range``, ``define``, ``template``, ``query`` …) is refused at
validation time with an error naming it, so a rule that would render wrongly is
never stored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import re2

from tidewell.model.errors import TidewellError

__all__ = ["AlertTemplateData", "TemplateError", "check_template", "expand", "go_float"]


class TemplateError(TidewellError, ValueError):
    """A template outside the supported subset, or one that fails to parse or run."""


@dataclass
class AlertTemplateData:
    """What a rule's templates see (Prometheus's ``template.AlertTemplateData``)."""

    labels: Mapping[str, str] = field(default_factory=dict)
    value: float = 0.0
    external_labels: Mapping[str, str] = field(default_factory=dict)
    external_url: str = ""


# -- formatting as Go does -----------------------------------------------------------------------


def go_float(v: float) -> str:
    """Go's ``%v`` of a float64 (``strconv.FormatFloat(v, 'g', -1, 64)``)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "-0" if math.copysign(1, v) < 0 else "0"
    sign = "-" if v < 0 else ""
    mant, _, ex = repr(abs(v)).partition("e")
    ip, _, fp = mant.partition(".")
    digits = ip + (fp if fp != "0" else "")
    stripped = digits.lstrip("0")
    exp = int(ex or 0) + len(ip) - 1 - (len(digits) - len(stripped))
    m_digits = stripped
    m_digits = m_digits.rstrip("0") or "0"
    if exp < -4 or exp >= 6:  # Go: shortest %v switches to e-notation at 1e+06
        body = m_digits[0] + ("." + m_digits[1:] if len(m_digits) > 1 else "")
        return f"{sign}{body}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if exp < 0:
        return f"{sign}0.{'0' * (-exp - 1)}{m_digits}"
    if len(m_digits) <= exp + 1:
        return f"{sign}{m_digits}{'0' * (exp + 1 - len(m_digits))}"
    return f"{sign}{m_digits[:exp + 1]}.{m_digits[exp + 1:]}"


def _g4(v: float) -> str:
    """Go's ``%.4g``."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return f"{v:.4g}"


def _to_float(v: Any) -> float:
    if isinstance(v, bool):
        raise TemplateError(f"can't convert {v!r} to float")
    if isinstance(v, (int, float)):
        return float(v)
    try:
        return float(str(v))
    except ValueError:
        raise TemplateError(f"strconv.ParseFloat: parsing {go_quote(str(v))}: invalid syntax"
                            ) from None


def go_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _humanize(v: Any) -> str:
    f = _to_float(v)
    if f == 0 or math.isnan(f) or math.isinf(f):
        return _g4(f)
    if abs(f) >= 1:
        prefix = ""
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(f) < 1000:
                break
            prefix, f = p, f / 1000
        return _g4(f) + prefix
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(f) >= 1:
            break
        prefix, f = p, f * 1000
    return _g4(f) + prefix


def _humanize1024(v: Any) -> str:
    f = _to_float(v)
    if abs(f) <= 1 or math.isnan(f) or math.isinf(f):
        return _g4(f)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(f) < 1024:
            break
        prefix, f = p, f / 1024
    return _g4(f) + prefix


def _humanize_duration(v: Any) -> str:
    f = _to_float(v)
    if math.isnan(f) or math.isinf(f):
        return _g4(f)
    if f == 0:
        return "0s"
    if abs(f) >= 1:
        sign = "-" if f < 0 else ""
        f = abs(f)
        days, hours = int(f) // 86400, int(f) // 3600 % 24
        minutes, seconds = int(f) // 60 % 60, f % 60
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {int(seconds)}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {int(seconds)}s"
        if minutes:
            return f"{sign}{minutes}m {int(seconds)}s"
        return f"{sign}{seconds:.4g}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(f) >= 1:
            break
        prefix, f = p, f * 1000
    return f"{f:.4g}{prefix}s"


def _humanize_timestamp(v: Any) -> str:
    f = _to_float(v)
    if math.isnan(f) or math.isinf(f):
        return _g4(f)
    t = datetime.fromtimestamp(f, UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S.%f").rstrip("0").rstrip(".") + " +0000 UTC"


_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])")


def _printf(fmt: str, *args: Any) -> str:
    out, it = [], iter(args)

    def one(m: re.Match[str]) -> str:
        flags, width, prec, verb = m.groups()
        if verb == "%":
            return "%"
        try:
            arg = next(it)
        except StopIteration:
            return f"%!{verb}(MISSING)"
        spec = f"%{flags}{width or ''}{'.' + prec if prec is not None else ''}"
        if verb == "v":
            return _str(arg)
        if verb == "s":
            return (spec + "s") % _str(arg)
        if verb == "q":
            return go_quote(_str(arg))
        if verb in "dxXob":
            if isinstance(arg, float) or not isinstance(arg, int):
                return f"%!{verb}({type(arg).__name__}={_str(arg)})"
            return (spec + ("d" if verb == "b" else verb)) % arg if verb != "b" else bin(arg)[2:]
        if verb in "feEgG":
            return (spec + verb) % _to_float(arg)
        return f"%!{verb}({_str(arg)})"

    out.append(_VERB.sub(one, fmt))
    return "".join(out)


def _str(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return go_float(v)
    if v is None:
        return "<no value>"
    if isinstance(v, Mapping):
        return "map[" + " ".join(f"{k}:{_str(v[k])}" for k in sorted(v)) + "]"
    return str(v)


def _truth(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, (bool, int, float, str, Mapping, list, tuple)):
        return bool(v)
    return True


def _cmp(op: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def f(a: Any, b: Any) -> bool:
        if isinstance(a, (int, float)) != isinstance(b, (int, float)):
            raise TemplateError(f"incompatible types for comparison: {_str(a)} and {_str(b)}")
        return op(a, b)
    return f


def _re_replace_all(pattern: str, repl: str, text: str) -> str:
    # Go's $1 / ${1} → Python's \g<1>.
    py = re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", repl.replace("\\", "\\\\"))
    try:
        return re2.compile(pattern).sub(py, text)
    except re2.error as exc:
        raise TemplateError(f"error parsing regexp: {exc}") from None


def _match(pattern: str, text: str) -> bool:
    try:
        return re2.search(pattern, text) is not None
    except re2.error as exc:
        raise TemplateError(f"error parsing regexp: {exc}") from None


def _strip_port(host: str) -> str:
    if host.startswith("["):
        return host[1:host.index("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _index(coll: Any, *keys: Any) -> Any:
    for k in keys:
        try:
            coll = coll[k]
        except (KeyError, IndexError, TypeError):
            if isinstance(coll, Mapping):
                return None
            raise TemplateError(f"error calling index: index {_str(k)} out of range") from None
    return coll


def _and(*args: Any) -> Any:
    for a in args:
        if not _truth(a):
            return a
    return args[-1]


def _or(*args: Any) -> Any:
    for a in args:
        if _truth(a):
            return a
    return args[-1]


FUNCS: dict[str, Callable[..., Any]] = {
    "humanize": _humanize,
    "humanize1024": _humanize1024,
    "humanizeDuration": _humanize_duration,
    "humanizePercentage": lambda v: _g4(_to_float(v) * 100) + "%",
    "humanizeTimestamp": _humanize_timestamp,
    "printf": _printf,
    "toUpper": lambda s: str(s).upper(),
    "toLower": lambda s: str(s).lower(),
    "title": lambda s: re.sub(r"(?<![\w'])(\w)", lambda m: m.group(1).upper(), str(s)),
    "reReplaceAll": _re_replace_all,
    "match": _match,
    "stripPort": _strip_port,
    "eq": lambda a, *bs: any(_cmp(lambda x, y: x == y)(a, b) for b in bs),
    "ne": _cmp(lambda a, b: a != b),
    "lt": _cmp(lambda a, b: a < b),
    "le": _cmp(lambda a, b: a <= b),
    "gt": _cmp(lambda a, b: a > b),
    "ge": _cmp(lambda a, b: a >= b),
    "and": _and,
    "or": _or,
    "not": lambda a: not _truth(a),
    "len": lambda a: len(a),
    "index": _index,
}
_UNSUPPORTED = ("range", "define", "template", "block", "break", "continue", "query", "first",
                "label", "value", "sortByLabel", "args", "tmpl", "safeHtml", "pathPrefix",
                "graphLink", "tableLink", "parseDuration", "externalURL", "urlQueryEscape",
                "toTime", "toDuration", "now", "humanizeFloat", "strvalue")
_PRELUDE_VARS = {"$labels": "Labels", "$externalLabels": "ExternalLabels",
                 "$externalURL": "ExternalURL", "$value": "Value"}


# -- lexing and parsing ----------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<num>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?))
  | (?P<decl>:=|=)
  | (?P<pipe>\|)
  | (?P<lp>\()
  | (?P<rp>\))
  | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
""", re.VERBOSE)


@dataclass
class _Node:
    kind: str  # text, action, if, with
    line: int
    text: str = ""
    decl: str = ""
    pipe: list[list[tuple[str, Any]]] = field(default_factory=list)
    then: list[_Node] = field(default_factory=list)
    orelse: list[_Node] = field(default_factory=list)


class _TemplateParser:
    def __init__(self, text: str, name: str) -> None:
        self.text = text
        self.name = name
        self.vars = {"$", *_PRELUDE_VARS}

    def error(self, line: int, msg: str) -> TemplateError:
        return TemplateError(f"template: {self.name}:{line}: {msg}")

    def actions(self) -> list[tuple[str, str, int]]:
        """Split into ``("text"|"action", body, line)`` applying trim markers."""
        out: list[tuple[str, str, int]] = []
        pos, text = 0, self.text
        while True:
            start = text.find("{{", pos)
            if start < 0:
                out.append(("text", text[pos:], text.count("\n", 0, pos) + 1))
                return out
            line = text.count("\n", 0, start) + 1
            chunk = text[pos:start]
            inner_start = start + 2
            if text.startswith("- ", inner_start) or text.startswith("-\t", inner_start) or \
                    text.startswith("-\n", inner_start):
                chunk = chunk.rstrip()
                inner_start += 1
            out.append(("text", chunk, line))
            if text.startswith("/*", inner_start.__index__()) or \
                    text[inner_start:].lstrip().startswith("/*"):
                close = text.find("*/", inner_start)
                if close < 0:
                    raise self.error(line, "unclosed comment")
                end = text.find("}}", close)
                if end < 0:
                    raise self.error(line, "comment ends before closing delimiter")
                body_end = end
            else:
                end = self._find_close(inner_start, line)
                body_end = end
            body = text[inner_start:body_end]
            pos = end + 2
            if body.endswith(" -") or body.endswith("\t-") or body.endswith("\n-"):
                body = body[:-1]
                rest = text[pos:]
                pos += len(rest) - len(rest.lstrip())
            if not body.strip().startswith("/*"):
                out.append(("action", body, line))

    def _find_close(self, pos: int, line: int) -> int:
        text, quote = self.text, ""
        i = pos
        while i < len(text):
            c = text[i]
            if quote:
                if c == "\\" and quote == '"':
                    i += 2
                    continue
                if c == quote:
                    quote = ""
                elif c == "\n" and quote == '"':
                    raise self.error(line, "unterminated quoted string")
            elif c in "\"`":
                quote = c
            elif text.startswith("}}", i):
                return i
            i += 1
        raise self.error(line, "unclosed action")

    def tokens(self, body: str, line: int) -> list[tuple[str, str]]:
        out, pos = [], 0
        while pos < len(body):
            m = _TOKEN.match(body, pos)
            if m is None:
                raise self.error(line, f"unexpected {body[pos]!r} in command")
            pos = m.end()
            if m.lastgroup != "ws":
                out.append((m.lastgroup or "", m.group()))
        return out

    def pipeline(self, toks: list[tuple[str, str]], line: int) -> tuple[str, list[Any]]:
        decl = ""
        if len(toks) >= 2 and toks[0][0] == "var" and toks[1][0] == "decl":
            decl = toks[0][1]
            toks = toks[2:]
            self.vars.add(decl)
        if not toks:
            raise self.error(line, "missing value for command")
        cmds: list[list[tuple[str, Any]]] = [[]]
        depth_stack: list[list[list[tuple[str, Any]]]] = []
        for kind, tok in toks:
            if kind == "pipe":
                if not cmds[-1]:
                    raise self.error(line, "missing command before |")
                cmds.append([])
            elif kind == "lp":
                depth_stack.append(cmds)
                cmds = [[]]
            elif kind == "rp":
                if not depth_stack:
                    raise self.error(line, "unexpected right paren")
                inner = cmds
                cmds = depth_stack.pop()
                cmds[-1].append(("pipe", inner))
            else:
                cmds[-1].append(self.operand(kind, tok, line))
        if depth_stack:
            raise self.error(line, "unclosed left paren")
        if not cmds[-1]:
            raise self.error(line, "missing command after |")
        return decl, cmds

    def operand(self, kind: str, tok: str, line: int) -> tuple[str, Any]:
        if kind == "str":
            return ("lit", bytes(tok[1:-1], "utf-8").decode("unicode_escape"))
        if kind == "raw":
            return ("lit", tok[1:-1])
        if kind == "num":
            return ("lit", float(tok) if any(c in tok for c in ".eE") else int(tok))
        if kind == "var":
            name, *path = tok.split(".")
            if name not in self.vars:
                raise self.error(line, f'undefined variable "{name}"')
            return ("var", (name, path))
        if kind == "field":
            return ("field", [p for p in tok.split(".") if p])
        if kind == "ident":
            if tok in ("true", "false"):
                return ("lit", tok == "true")
            if tok == "nil":
                return ("lit", None)
            if tok in _UNSUPPORTED:
                raise self.error(line, f'function "{tok}" is not supported by Tidewell\'s '
                                       "template subset")
            if tok not in FUNCS:
                raise self.error(line, f'function "{tok}" not defined')
            return ("func", tok)
        raise self.error(line, f"unexpected {tok!r} in operand")

    def parse(self) -> list[_Node]:
        root: list[_Node] = []
        stack: list[tuple[_Node, list[_Node]]] = []
        cur = root
        for kind, body, line in self.actions():
            if kind == "text":
                if body:
                    cur.append(_Node("text", line, text=body))
                continue
            toks = self.tokens(body, line)
            if not toks:
                raise self.error(line, "missing value for command")
            word = toks[0][1] if toks[0][0] == "ident" else ""
            if word in ("if", "with"):
                node = _Node(word, line)
                node.decl, node.pipe = self.pipeline(toks[1:], line)
                cur.append(node)
                stack.append((node, cur))
                cur = node.then
            elif word == "else":
                if not stack:
                    raise self.error(line, "unexpected {{else}}")
                node, parent = stack[-1]
                if node.orelse or cur is node.orelse:
                    raise self.error(line, "expected end; found {{else}}")
                cur = node.orelse
                if len(toks) > 1 and toks[1][1] in ("if", "with"):
                    inner = _Node(toks[1][1], line)
                    inner.decl, inner.pipe = self.pipeline(toks[2:], line)
                    cur.append(inner)
                    stack[-1] = (inner, parent)
                    # the chained node closes with the same {{end}}
                    cur = inner.then
                    node.orelse = [inner]
            elif word == "end":
                if not stack:
                    raise self.error(line, "unexpected {{end}}")
                _, cur = stack.pop()
            elif word in _UNSUPPORTED:
                raise self.error(line, f'"{word}" is not supported by Tidewell\'s template '
                                       "subset")
            else:
                node = _Node("action", line)
                node.decl, node.pipe = self.pipeline(toks, line)
                cur.append(node)
        if stack:
            raise self.error(stack[-1][0].line, "unexpected EOF")
        return root


# -- execution -------------------------------------------------------------------------------------


class _Exec:
    def __init__(self, name: str, data: AlertTemplateData) -> None:
        self.name = name
        self.dot: dict[str, Any] = {
            "Labels": dict(data.labels), "Value": data.value,
            "ExternalLabels": dict(data.external_labels), "ExternalURL": data.external_url,
        }
        self.vars: dict[str, Any] = {"$": self.dot}
        self.vars.update({k: self.dot[v] for k, v in _PRELUDE_VARS.items()})

    def run(self, nodes: list[_Node], out: list[str], dot: Any) -> None:
        for n in nodes:
            if n.kind == "text":
                out.append(n.text)
                continue
            try:
                val = self.pipe(n.pipe, dot)
            except TemplateError:
                raise
            except Exception as exc:  # a function's own failure (bad regex, types)
                raise TemplateError(f"template: {self.name}:{n.line}: {exc}") from None
            if n.decl:
                self.vars[n.decl] = val
            if n.kind == "action":
                if not n.decl:
                    out.append(_str(val))
            elif n.kind == "if":
                self.run(n.then if _truth(val) else n.orelse, out, dot)
            elif n.kind == "with":
                if _truth(val):
                    self.run(n.then, out, val)
                else:
                    self.run(n.orelse, out, dot)

    def pipe(self, cmds: list[list[tuple[str, Any]]], dot: Any) -> Any:
        prev: Any = _NONE
        for cmd in cmds:
            prev = self.command(cmd, dot, prev)
        return prev

    def command(self, cmd: list[tuple[str, Any]], dot: Any, piped: Any) -> Any:
        kind, val = cmd[0]
        if kind == "func":
            args = [self.arg(a, dot) for a in cmd[1:]]
            if piped is not _NONE:
                args.append(piped)
            try:
                return FUNCS[val](*args)
            except TypeError as exc:
                raise TemplateError(f"wrong number of args for {val}: {exc}") from None
        if len(cmd) > 1 or piped is not _NONE:
            raise TemplateError(f"can't give argument to non-function {cmd[0][1]}")
        return self.arg(cmd[0], dot)

    def arg(self, op: tuple[str, Any], dot: Any) -> Any:
        kind, val = op
        if kind == "lit":
            return val
        if kind == "pipe":
            return self.pipe(val, dot)
        if kind == "func":
            return FUNCS[val]()
        if kind == "var":
            name, path = val
            return _walk(self.vars[name], path)
        return _walk(dot, val)


_NONE = object()


def _walk(v: Any, path: list[str]) -> Any:
    for p in path:
        if isinstance(v, Mapping):
            v = v.get(p)
        else:
            raise TemplateError(f"can't evaluate field {p} in type {type(v).__name__}")
    return v


def _parse(text: str, name: str) -> list[_Node]:
    return _TemplateParser(text, name).parse()


def check_template(text: str, name: str = "__alert") -> None:
    """Raise ``TemplateError`` unless ``text`` parses within the supported subset."""
    _parse(text, name)


def expand(text: str, data: AlertTemplateData, name: str = "__alert") -> str:
    """Render ``text`` for one alert; raises ``TemplateError``."""
    if "{{" not in text:
        return text
    out: list[str] = []
    ex = _Exec(name, data)
    ex.run(_parse(text, name), out, ex.dot)
    return "".join(out)
