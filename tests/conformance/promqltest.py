"""Runs Prometheus's PromQL test scripts against our engine, with promqltest's rules.

Rules followed (see ``_ref/promqltest-test.go.txt``): ``load`` with the
expanding notation and ``@st`` start-timestamp lines, ``clear``, ``eval instant|range``, ``expect
fail|warn|info|no_warn|no_info|ordered|string|range vector``, relative
tolerance 1e-6, unordered unless ordered, and for every instant eval the
re-runs with ``@`` set on every selector at five more evaluation times, each
also checked as a range query around the evaluation time.

Usage for development: ``python tests/conformance/promqltest.py [file.test ...] [-v]``.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from memstore import MemStore

from tidewell.model import CounterResetHint, Histogram, Labels, stale_nan
from tidewell.promql import nhist
from tidewell.promql import nodes as ast
from tidewell.promql.engine import Engine, EngineOptions, QueryResult
from tidewell.promql.errors import ParseError, PromQLError
from tidewell.promql.lexer import parse_duration_ms
from tidewell.promql.nhist import FH
from tidewell.promql.parser import parse, parse_series_description

DEFAULT_DIR = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "promqltest"
EPSILON = 1e-6
MIN_NORMAL = 2.2250738585072014e-308

_PAT_LOAD = re.compile(r"^load(?:_(with_nhcb))?\s+(.+?)$")
_PAT_INSTANT = re.compile(
    r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")
_PAT_RANGE = re.compile(
    r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$")
_PAT_EXPECT = re.compile(
    r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$")
_PAT_EXPECT_RANGE = re.compile(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$")
_QUERY_CONTEXT = re.compile(r"(start|end|range|step)\(\)")
_AT_UNSAFE = {"days_in_month", "day_of_month", "day_of_week", "day_of_year", "hour", "minute",
              "month", "year", "predict_linear", "time", "timestamp", "start_timestamp",
              "start", "end", "step", "range"}


def conformance_dir() -> Path:
    """The promqltest scripts: ``$TIDEWELL_CONFORMANCE_DIR`` (the shared conformance
    folder, or its ``promqltest`` folder itself), else ``../shared/conformance/promqltest``."""
    env = os.environ.get("TIDEWELL_CONFORMANCE_DIR")
    if not env:
        return DEFAULT_DIR
    path = Path(env)
    return path / "promqltest" if (path / "promqltest").is_dir() else path


def dur(text: str) -> int:
    text = text.strip()
    if re.fullmatch(r"-?\d+", text):
        return int(text) * 1000 if text != "0" else 0
    neg = text.startswith("-")
    ms = parse_duration_ms(text.lstrip("-"))
    return -ms if neg else ms


def almost_equal(a: float, b: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    abs_sum = abs(a) + abs(b)
    diff = abs(a - b)
    if a == 0 or b == 0 or abs_sum < MIN_NORMAL:
        return diff < EPSILON * MIN_NORMAL
    return diff / min(abs_sum, sys.float_info.max) < EPSILON


# -- series descriptions --------------------------------------------------------------
_ITEM = re.compile(r"\{\{.*?\}\}(?:[-+]\{\{.*?\}\})?(?:x\d+)?|\S+")
_NUM = r"[-+]?(?:0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?|[Ii]nf|NaN)"


def _num(s: str) -> float:
    s2 = s.lower().lstrip("+")
    if s2 in ("inf",):
        return math.inf
    if s2 in ("-inf",):
        return -math.inf
    if s2.lstrip("-") == "nan":
        return math.nan
    if "0x" in s2:
        return float(int(s2, 16))
    return float(s2)


@dataclass
class HVal:
    """One native histogram of a script (``hint_set``: the counter_reset_hint was written)."""

    h: FH
    hint_set: bool


_HINTS = {"unknown": CounterResetHint.UNKNOWN, "reset": CounterResetHint.COUNTER_RESET,
          "not_reset": CounterResetHint.NOT_COUNTER_RESET, "gauge": CounterResetHint.GAUGE}


def parse_histogram(desc: str) -> HVal:
    """``{{schema:0 sum:5 count:4 buckets:[1 2 1] ...}}`` as promqltest reads it."""
    body = desc.strip()[2:-2]
    items = re.findall(r"(\w+):\s*(\[[^\]]*\]|\S+)", body)
    d: dict[str, str] = {}
    for k, v in items:
        if k in d:
            raise ValueError(f'duplicate key "{k}" in histogram')
        d[k] = v

    def arr(key: str) -> list[float]:
        v = d.get(key)
        return [_num(x) for x in v[1:-1].split()] if v else []

    h = FH(schema=int(d.get("schema", "0")), zero_threshold=_num(d.get("z_bucket_w", "0")),
           zero_count=_num(d.get("z_bucket", "0")), count=_num(d.get("count", "0")),
           sum=_num(d.get("sum", "0")), custom_values=tuple(arr("custom_values")))
    for key, off, target in (("buckets", "offset", h.pos), ("n_buckets", "n_offset", h.neg)):
        start = int(d.get(off, "0"))
        for k, c in enumerate(arr(key)):
            target[start + k] = c
    hint_set = "counter_reset_hint" in d
    if hint_set:
        h.hint = _HINTS[d["counter_reset_hint"]]
    return HVal(h, hint_set)


def _hist_item(item: str) -> list[HVal]:
    m = re.fullmatch(r"(\{\{.*?\}\})(?:([-+])(\{\{.*?\}\}))?(?:x(\d+))?", item)
    if not m:
        raise ValueError(f"bad histogram item {item!r}")
    base = parse_histogram(m.group(1))
    n = int(m.group(4)) if m.group(4) else 0
    if not m.group(2):
        return [base] * (n + 1)
    inc = parse_histogram(m.group(3))
    sign = 1.0 if m.group(2) == "+" else -1.0
    out = [HVal(base.h, inc.hint_set)]
    cur = base.h
    for _ in range(n):
        cur = nhist.add(cur, inc.h, sign).h
        out.append(HVal(cur, inc.hint_set))
    return out


def parse_values(text: str) -> tuple[list[float | HVal | None], bool]:
    """Expand a value sequence; ``None`` = omitted, ``HVal`` = native histogram."""
    out: list[float | HVal | None] = []
    hist = False
    for item in _ITEM.findall(text):
        if item.startswith("{{"):
            hist = True
            out.extend(_hist_item(item))
            continue
        blanks = _blanks(item)
        if blanks:
            out.extend([None] * blanks)
            continue
        if item == "stale":
            out.append(stale_nan())
            continue
        m = re.fullmatch(rf"({_NUM})(?:([-+])({_NUM}))?x(\d+)", item)
        if m:
            a = _num(m.group(1))
            b = _num(m.group(3)) if m.group(3) else 0.0
            if m.group(2) == "-":
                b = -b
            n = int(m.group(4))
            # Prometheus accumulates by repeated addition.
            cur = a
            for _ in range(n + 1):
                out.append(cur)
                cur += b
            continue
        out.append(_num(item))
    return out, hist


_ST_UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000,
             "w": 604_800_000, "y": 31_536_000_000}
_ST_DUR = r"([+-]?)(\d+)(ms|[smhdwy])?"


def _st_ms(sign: str, num: str, unit: str | None) -> int:
    if unit is None and num != "0":
        raise ValueError(f"duration {num!r} has no unit")
    ms = int(num) * _ST_UNITS[unit or "ms"]
    return -ms if sign == "-" else ms


def _blanks(item: str) -> int:
    """How many absent samples ``_`` or ``_xN`` stands for; 0 for any other item."""
    if item == "_":
        return 1
    m = re.fullmatch(r"_x(\d+)", item)
    return int(m.group(1)) if m else 0


def parse_st_values(text: str) -> list[int | None]:
    """Expand an ``@st`` line's sequence of start-time offsets (ms relative to each
    sample's time; ``None`` = no start timestamp), as promqltest's ``parseSTSequence``."""
    out: list[int | None] = []
    for item in text.split():
        blanks = _blanks(item)
        if blanks:
            out.extend([None] * blanks)
            continue
        m = re.fullmatch(rf"{_ST_DUR}(?:([+-])(\d+)(ms|[smhdwy])?)?(?:x(\d+))?", item)
        if not m:
            raise ValueError(f"invalid ST item {item!r}")
        base = _st_ms(m.group(1), m.group(2), m.group(3))
        delta = _st_ms(m.group(4), m.group(5), m.group(6)) if m.group(4) else 0
        if m.group(4) and m.group(7) is None:
            raise ValueError(f"invalid ST item {item!r}: step without count")
        n = int(m.group(7)) + 1 if m.group(7) is not None else 1
        out.extend(base + k * delta for k in range(n))
    return out


def _selector_end(line: str) -> int:
    i = 0
    m = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line)
    if m:
        i = m.end()
    if i < len(line) and line[i] == "{":
        quote = ""
        while i < len(line):
            c = line[i]
            if quote:
                if c == "\\":
                    i += 1
                elif c == quote:
                    quote = ""
            elif c in "\"'`":
                quote = c
            elif c == "}":
                return i + 1
            i += 1
    return i


def parse_series(line: str) -> tuple[Labels, list[float | str | None], bool]:
    end = _selector_end(line)
    vals, hist = parse_values(line[end:])
    labels = Labels((m.name, m.value) for m in parse_series_description(line[:end]))
    return labels, vals, hist


def classic_to_nhcb(defs: list[tuple[Labels, list[int], list[float]]]) \
        -> list[tuple[Labels, list[int], list[Histogram]]]:
    """``load_with_nhcb``: classic ``_bucket``/``_count``/``_sum`` series as custom-bucket
    histograms (promqltest's ``appendCustomHistogram`` via ``convertnhcb``)."""
    groups: dict[Labels, dict[int, dict[str, object]]] = {}
    for lb, ts, vs in defs:
        name = lb.name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix):
                break
        else:
            continue
        if suffix == "_bucket":
            try:
                le = float(lb.get("le"))
            except ValueError:
                continue
            if math.isnan(le):
                continue
        base = Labels([*lb.without("le", "__name__"), ("__name__", name[: -len(suffix)])])
        by_t = groups.setdefault(base, {})
        for t, v in zip(ts, vs, strict=True):
            d = by_t.setdefault(t, {"buckets": {}})
            if suffix == "_bucket":
                d["buckets"].setdefault(le, v)  # type: ignore[union-attr]
            else:
                d[suffix] = v
    out = []
    for base, by_t in groups.items():
        hts, hvs = [], []
        for t in sorted(by_t):
            d = by_t[t]
            bk: dict[float, float] = d["buckets"]  # type: ignore[assignment]
            les = sorted(bk)
            count = d.get("_count", bk[les[-1]] if les else 0.0)
            if not les or les[-1] != math.inf:
                les.append(math.inf)
                bk[math.inf] = count  # type: ignore[assignment]
            if count != bk[math.inf] or any(bk[a] > bk[b] for a, b in itertools.pairwise(les)):
                continue
            prev = 0.0
            pos = {}
            for k, le in enumerate(les):
                pos[k] = bk[le] - prev
                prev = bk[le]
            h = FH(schema=-53, count=float(count), sum=float(d.get("_sum", 0.0)),  # type: ignore[arg-type]
                   pos=pos, custom_values=tuple(les[:-1]))
            hts.append(t)
            hvs.append(nhist.to_model(h))
        if hts:
            out.append((base, hts, hvs))
    return out


# -- commands ---------------------------------------------------------------------------
@dataclass
class Eval:
    line: int
    expr: str
    instant: bool
    start: int
    end: int = 0
    step: int = 0
    eval_time: int = 0
    fail: bool = False
    ordered: bool = False
    expects: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    expected: dict[Labels, tuple[int, list[float | str | None]]] = field(default_factory=dict)
    expect_scalar: float | None = None
    expected_string: str | None = None
    exclude_range: bool = False
    histogram: bool = False


@dataclass
class Outcome:
    file: str
    line: int
    expr: str
    ok: bool
    histogram: bool
    message: str = ""


class Script:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.store = MemStore()
        # Prometheus's test engine enables delayed name removal (promqltest.NewTestEngine).
        self.engine = Engine(EngineOptions(lookback_delta_ms=300_000, max_samples=50_000_000,
                                           timeout_s=100.0, delayed_name_removal=True))
        self.hist_names: set[str] = set()
        self.hist_series: list[Labels] = []

    def run(self) -> list[Outcome]:
        lines = [ln.strip() for ln in self.path.read_text().split("\n")]
        lines = ["" if ln.startswith("#") else ln for ln in lines]
        out: list[Outcome] = []
        i = 0
        while i < len(lines):
            ln = lines[i]
            if not ln:
                i += 1
                continue
            word = re.split(r"[\t ]+", ln, maxsplit=1)[0].lower()
            if word == "clear":
                self.store.clear()
                self.hist_names.clear()
                self.hist_series.clear()
                i += 1
            elif word.startswith("load"):
                i = self._load(lines, i)
            elif word.startswith("eval"):
                i, ev, err = self._parse_eval(lines, i)
                if err:
                    out.append(Outcome(self.path.name, i, ln, False, False, err))
                    continue
                assert ev is not None
                msg = self._exec(ev)
                out.append(Outcome(self.path.name, ev.line, ev.expr, msg is None, ev.histogram,
                                   msg or ""))
            else:
                out.append(Outcome(self.path.name, i + 1, ln, False, False, "invalid command"))
                i += 1
        return out

    def _load(self, lines: list[str], i: int) -> int:
        m = _PAT_LOAD.match(lines[i])
        assert m, lines[i]
        gap = dur(m.group(2))
        with_nhcb = bool(m.group(1))
        i += 1
        pending_st: list[int | None] | None = None
        classic: list[tuple[Labels, list[int], list[float]]] = []
        while i < len(lines) and lines[i]:
            ln = lines[i]
            i += 1
            head = re.split(r"[ \t]", ln, maxsplit=1)[0]
            if head.endswith("@st"):
                pending_st = parse_st_values(ln[len(head):])
                continue
            labels, vals, hist = parse_series(ln)
            st_offsets, pending_st = pending_st, None
            if hist:
                self.hist_names.add(labels.name)
                self.hist_series.append(labels)
            if with_nhcb and labels.name.endswith("_bucket"):
                self.hist_names.add(labels.name[: -len("_bucket")])
                self.hist_series.append(Labels([*labels.without("le", "__name__"),
                                                ("__name__", labels.name[:-7])]))
            ts, vs, sts, hts, hvs = [], [], [], [], []
            for k, v in enumerate(vals):
                if v is None:
                    continue
                if isinstance(v, HVal):
                    hts.append(k * gap)
                    hvs.append(nhist.to_model(v.h))
                    continue
                ts.append(k * gap)
                vs.append(float(v))
                off = st_offsets[k] if st_offsets and k < len(st_offsets) else None
                sts.append(0 if off is None else k * gap + off)
            if ts:
                self.store.add(labels, ts, vs, sts if st_offsets else None)
            if hts:
                self.store.add_histograms(labels, hts, hvs)
            if with_nhcb:
                classic.append((labels, ts, vs))
        if with_nhcb:
            for lb, hts, hvs in classic_to_nhcb(classic):
                self.store.add_histograms(lb, hts, hvs)
        return i

    def _parse_eval(self, lines: list[str], i: int) -> tuple[int, Eval | None, str]:
        ln = lines[i]
        mi, mr = _PAT_INSTANT.match(ln), _PAT_RANGE.match(ln)
        if mi:
            mod, at, expr = mi.group(1), mi.group(2), mi.group(3)
            t = dur(at)
            ev = Eval(i + 1, expr, True, t, t, 0, t)
        elif mr:
            mod, expr = mr.group(1), mr.group(5)
            ev = Eval(i + 1, expr, False, dur(mr.group(2)), dur(mr.group(3)), dur(mr.group(4)))
        else:
            return i + 1, None, "invalid eval command"
        if mod == "fail":
            ev.fail = True
        elif mod == "ordered":
            ev.ordered = True
        elif mod in ("warn", "info"):
            ev.expects.setdefault(mod, []).append(("any", ""))
        pos = 0
        i += 1
        while i < len(lines) and lines[i]:
            d = lines[i]
            i += 1
            if d.startswith("expected_fail_message"):
                ev.expects.setdefault("fail", []).append(
                    ("msg", d[len("expected_fail_message"):].strip()))
                continue
            if d.startswith("expected_fail_regexp"):
                ev.expects.setdefault("fail", []).append(
                    ("regex", d[len("expected_fail_regexp"):].strip()))
                continue
            if d.startswith("expect range vector"):
                m = _PAT_EXPECT_RANGE.match(d)
                assert m
                ev.start, ev.end, ev.step = dur(m.group(1)), dur(m.group(2)), dur(m.group(3))
                ev.eval_time = ev.end
                ev.exclude_range = True
                continue
            if d.startswith("expect string"):
                s = d[len("expect string"):].strip()
                ev.expected_string = s[1:-1].encode().decode("unicode_escape") if s[0] == '"' \
                    else s[1:-1]
                ev.exclude_range = True
                continue
            if d.split(" ")[0] == "expect":
                m = _PAT_EXPECT.match(d)
                if not m:
                    return i, None, f"bad expect line {d!r}"
                kind = m.group(1)
                if kind == "ordered":
                    ev.ordered = True
                elif kind == "fail":
                    ev.fail = True
                ev.expects.setdefault(kind, []).append(
                    (m.group(2) or "any", (m.group(3) or "").strip()))
                continue
            if re.fullmatch(_NUM, d):
                ev.expect_scalar = _num(d)
                continue
            pos += 1
            labels, vals, hist = parse_series(d)
            if hist:
                ev.histogram = True
            ev.expected[labels] = (pos, vals)
        if "fail" in ev.expects:
            ev.fail = True
        if self.hist_series and not ev.histogram:
            ev.histogram = self._uses_histograms(ev.expr)
        if self.path.name == "native_histograms.test":
            ev.histogram = True
        return i, ev, ""

    def _uses_histograms(self, expr: str) -> bool:
        """Whether any selector of ``expr`` selects a series loaded with native histograms."""
        try:
            tree = parse(expr)
        except ParseError:
            return bool(set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr)) & self.hist_names)
        for node, _ in ast.walk(tree):
            if isinstance(node, ast.VectorSelector):
                for lb in self.hist_series:
                    if all(m.matches_labels(lb) for m in node.matchers):
                        return True
        return False

    # -- execution --------------------------------------------------------------------
    def _query(self, expr: str, start: int, end: int, step: int,
               instant: bool) -> QueryResult:
        if instant:
            return self.engine.instant_query(self.store, "test", expr, start)
        return self.engine.range_query(self.store, "test", expr, start, end, step)

    def _exec(self, ev: Eval) -> str | None:
        try:
            if not ev.instant:
                return self._run_one(ev, ev.expr, ev.start, range_mode=True)
            cases = [(ev.expr, ev.eval_time)]
            cases += self._at_cases(ev)
            for expr, t in cases:
                err = self._run_one(ev, expr, t, range_mode=False)
                if err:
                    return err
            return None
        except Exception as e:  # a crash is a failure, never hidden
            return f"crash: {type(e).__name__}: {e}"

    def _at_cases(self, ev: Eval) -> list[tuple[str, int]]:
        try:
            tree = parse(ev.expr)
        except ParseError:
            return []
        ts = ev.eval_time
        unsafe = False
        for node, path in ast.walk(tree):
            if any(isinstance(p, ast.SubqueryExpr) and (p.mods.at is not None
                                                         or p.mods.at_keyword) for p in path):
                continue
            mods = None
            if isinstance(node, (ast.VectorSelector, ast.SubqueryExpr)):
                mods = node.mods
            if mods is not None and mods.at is None and not mods.at_keyword:
                mods.at = ts / 1000.0
            if isinstance(node, ast.Call) and node.func in _AT_UNSAFE:
                unsafe = True
        if unsafe:
            return []
        new = str(tree)
        times = [-10 * ts, 0, int(ts / 5), ts, 10 * ts] if ts else [-1000, 0, 1000]
        return [(new, t) for t in times]

    def _run_one(self, ev: Eval, expr: str, t: int, range_mode: bool) -> str | None:
        try:
            if range_mode:
                res = self._query(expr, ev.start, ev.end, ev.step, False)
            elif ev.exclude_range and ev.expected_string is None:
                res = self._query(expr, t, t, 0, True)
            else:
                res = self._query(expr, t, t, 0, True)
        except PromQLError as e:
            if ev.fail:
                return self._check_fail(ev, str(e))
            return f"error: {e}"
        if ev.fail:
            return f"expected error for {expr!r} but got none"
        err = self._check_annotations(ev, res)
        if err:
            return err
        err = self._compare(ev, res, t, range_mode)
        if err or range_mode or ev.exclude_range or _QUERY_CONTEXT.search(expr):
            return err
        # Same result from a range query around t.
        try:
            rres = self._query(expr, t - 60_000, t + 60_000, 60_000, False)
        except PromQLError as e:
            return f"range mode error: {e}"
        if ev.ordered:
            return None
        err = _check_sorted(rres)
        if err:
            return err
        vec: list[tuple[Labels, float | Histogram]] = []
        for s in rres.series:
            hit = np.flatnonzero(s.ts == t)
            if len(hit):
                vec.append((s.labels, float(s.vals[hit[0]])))
            hit = np.flatnonzero(s.hts == t)
            if len(hit):
                vec.append((s.labels, s.hists[hit[0]]))
        if res.kind == "scalar":
            if not vec or isinstance(vec[0][1], Histogram):
                return "range mode: scalar missing"
            return self._cmp_scalar(ev, vec[0][1], "range mode")
        return self._cmp_vector(ev, vec, "range mode")

    def _check_fail(self, ev: Eval, msg: str) -> str | None:
        for kind, text in ev.expects.get("fail", []):
            if kind == "msg" and text != msg:
                return f"expected error {text!r}, got {msg!r}"
            if kind == "regex" and not re.search(text, msg):
                return f"expected error matching {text!r}, got {msg!r}"
        return None

    def _check_annotations(self, ev: Eval, res: QueryResult) -> str | None:
        for kind, actual in (("warn", res.warnings), ("info", res.infos)):
            exp = ev.expects.get(kind, [])
            if exp:
                if not actual:
                    return f"expected {kind} annotations, got none"
                for mode, text in exp:
                    if not any(_anno_match(mode, text, a) for a in actual):
                        return f"no {kind} annotation matching {text!r}; got {actual}"
                for a in actual:
                    if not any(_anno_match(mode, text, a) for mode, text in exp):
                        return f"unexpected {kind} annotation {a!r}"
            if f"no_{kind}" in ev.expects and actual:
                return f"unexpected {kind} annotations {actual}"
        return None

    def _cmp_scalar(self, ev: Eval, v: float, where: str = "") -> str | None:
        if ev.expect_scalar is None:
            return f"{where} expected vector, got scalar {v}"
        if not almost_equal(ev.expect_scalar, v):
            return f"{where} expected scalar {ev.expect_scalar}, got {v}"
        return None

    def _cmp_vector(self, ev: Eval, vec: list[tuple[Labels, float | Histogram]],
                    where: str = "") -> str | None:
        if ev.expect_scalar is not None:
            return f"{where} expected scalar, got vector"
        seen = set()
        for pos, (lb, v) in enumerate(vec):
            exp = ev.expected.get(lb)
            if exp is None:
                return f"{where} unexpected metric {lb} = {v}"
            if ev.ordered and exp[0] != pos + 1:
                return f"{where} {lb} at position {pos + 1}, expected {exp[0]}"
            e0 = exp[1][0]
            err = _cmp_point(e0, v)
            if err:
                return f"{where} {lb}: {err}"
            seen.add(lb)
        for lb in ev.expected:
            if lb not in seen:
                return f"{where} expected metric {lb} not found"
        return None

    def _compare(self, ev: Eval, res: QueryResult, t: int, range_mode: bool) -> str | None:
        if res.kind == "string":
            assert res.string is not None
            if ev.expected_string != res.string[1]:
                return f"expected string {ev.expected_string!r}, got {res.string[1]!r}"
            return None
        if res.kind == "scalar":
            assert res.scalar is not None
            return self._cmp_scalar(ev, res.scalar[1])
        if res.kind == "vector":
            return self._cmp_vector(ev, [(s.labels, s.hists[0] if s.hists else float(s.vals[0]))
                                         for s in res.series])
        # matrix
        if ev.ordered:
            return "expected ordered result, but query returned a matrix"
        if ev.expect_scalar is not None:
            return "expected scalar, got matrix"
        err = _check_sorted(res)
        if err:
            return err
        step = ev.step
        start = ev.start
        seen = set()
        for s in res.series:
            exp = ev.expected.get(s.labels)
            if exp is None:
                return f"unexpected metric {s.labels} in result"
            seen.add(s.labels)
            want_t, want_v, want_ht, want_h = [], [], [], []
            for k, v in enumerate(exp[1]):
                tt = start + k * step
                if tt > ev.end:
                    return "expected more points than the range allows"
                if isinstance(v, HVal):
                    want_ht.append(tt)
                    want_h.append(v)
                elif v is not None:
                    want_t.append(tt)
                    want_v.append(float(v))
            if len(want_t) != len(s.ts) or len(want_ht) != len(s.hts):
                return (f"expected {len(want_t)} float and {len(want_ht)} histogram points for "
                        f"{s.labels}, got {len(s.ts)} and {len(s.hts)}: "
                        f"{list(zip(s.ts.tolist(), s.vals.tolist(), strict=True))[:8]} "
                        f"{s.hts.tolist()[:8]}")
            for k in range(len(want_t)):
                if want_t[k] != int(s.ts[k]):
                    return f"{s.labels} point {k}: want t={want_t[k]}, got t={int(s.ts[k])}"
                if not almost_equal(want_v[k], float(s.vals[k])):
                    return (f"{s.labels} at t={want_t[k]}: want {want_v[k]}, got "
                            f"{float(s.vals[k])}")
            for k in range(len(want_ht)):
                if want_ht[k] != int(s.hts[k]):
                    return f"{s.labels} hpoint {k}: want t={want_ht[k]}, got t={int(s.hts[k])}"
                err = _cmp_point(want_h[k], s.hists[k])
                if err:
                    return f"{s.labels} at t={want_ht[k]}: {err}"
        for lb in ev.expected:
            if lb not in seen:
                return f"expected metric {lb} not found"
        return None


def _cmp_point(want: float | HVal | None, got: float | Histogram) -> str | None:
    if want is None:
        return f"expected no value, got {got}"
    if isinstance(want, HVal):
        if not isinstance(got, Histogram):
            return f"expected histogram {_hstr(want.h)}, got float {got}"
        if not _hist_equal(want, nhist.from_model(got)):
            return f"expected {_hstr(want.h)}, got {_hstr(nhist.from_model(got))}"
        return None
    if isinstance(got, Histogram):
        return f"expected float {want}, got histogram {_hstr(nhist.from_model(got))}"
    if not almost_equal(float(want), got):
        return f"expected {want}, got {got}"
    return None


def _hstr(h: FH) -> str:
    pos = {k: v for k, v in sorted(h.pos.items()) if v}
    neg = {k: v for k, v in sorted(h.neg.items()) if v}
    return (f"{{{{schema:{h.schema} count:{h.count} sum:{h.sum} z:{h.zero_count}/"
            f"{h.zero_threshold} pos:{pos} neg:{neg} hint:{h.hint.name} "
            f"cv:{list(h.custom_values)}}}}}")


def _buckets_equal(a: dict[int, float], b: dict[int, float]) -> bool:
    ka = {k for k, v in a.items() if v != 0}
    kb = {k for k, v in b.items() if v != 0}
    return ka == kb and all(almost_equal(a[k], b[k]) for k in ka)


def _hist_equal(want: HVal, got: FH) -> bool:
    """promqltest's ``compareNativeHistogram`` on the compacted forms."""
    e = want.h
    if e.schema != got.schema or not almost_equal(e.count, got.count) \
            or not almost_equal(e.sum, got.sum):
        return False
    if e.custom and tuple(e.custom_values) != tuple(got.custom_values):
        return False
    if e.zero_threshold != got.zero_threshold or not almost_equal(e.zero_count, got.zero_count):
        return False
    if not _buckets_equal(e.pos, got.pos) or not _buckets_equal(e.neg, got.neg):
        return False
    return not want.hint_set or e.hint == got.hint


def _anno_match(mode: str, text: str, actual: str) -> bool:
    if mode == "any":
        return True
    if mode == "msg":
        return text == actual
    return re.search(text, actual) is not None


def _check_sorted(res: QueryResult) -> str | None:
    labs = [s.labels for s in res.series]
    for a, b in itertools.pairwise(labs):
        if a > b:
            return f"matrix not sorted: {a} before {b}"
    return None


def run_file(path: Path) -> list[Outcome]:
    return Script(path).run()


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    names = [a for a in argv if not a.startswith("-")]
    d = conformance_dir()
    files = [d / n for n in names] if names else sorted(d.glob("*.test"))
    tot = {"pass": 0, "fail": 0, "hpass": 0, "hfail": 0}
    for f in files:
        outs = run_file(f)
        c = {"pass": 0, "fail": 0, "hpass": 0, "hfail": 0}
        for o in outs:
            key = ("h" if o.histogram else "") + ("pass" if o.ok else "fail")
            c[key] += 1
            if not o.ok and (verbose or not o.histogram):
                print(f"  FAIL {o.file}:{o.line} {o.expr}\n       {o.message[:1500]}")
        for k in tot:
            tot[k] += c[k]
        print(f"{f.name:32s} float {c['pass']:4d} passed {c['fail']:4d} failed | native "
              f"histogram {c['hpass']:4d} passed {c['hfail']:4d} failed")
    print(f"{'TOTAL':32s} float {tot['pass']:4d} passed {tot['fail']:4d} failed | native "
          f"histogram {tot['hpass']:4d} passed {tot['hfail']:4d} failed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
