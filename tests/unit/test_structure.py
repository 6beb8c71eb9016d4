"""Rules of the source tree (DESIGN.md, "Layering"), checked on the code itself.

Each would have failed on the tree before the structure clean-up: a class name
defined twice, an error class outside the ``TidewellError`` root, a private
name imported from another package, an import inside a PromQL function.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from collections import defaultdict
from pathlib import Path

import tidewell
from tidewell.model import TidewellError

SRC = Path(tidewell.__file__).parent
# Being reworked on another branch (the compactor helper's); checked once it lands.
PENDING: tuple[str, ...] = ()


def _modules() -> list[tuple[str, ast.Module]]:
    out = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if not rel.startswith(PENDING):
            out.append((rel, ast.parse(path.read_text(), rel)))
    return out


def _package(rel: str) -> str:
    return rel.split("/")[0] if "/" in rel else ""


def test_no_two_classes_share_a_name() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for rel, tree in _modules():
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                where[node.name].append(rel)
    assert {n: f for n, f in where.items() if len(f) > 1} == {}


def test_no_private_name_is_imported_from_another_package() -> None:
    bad = []
    for rel, tree in _modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or not (node.module or "").startswith(
                "tidewell."
            ):
                continue
            target = node.module.split(".")[1]
            for alias in node.names:
                private = alias.name.startswith("_") or any(
                    part.startswith("_") for part in node.module.split(".")[2:]
                )
                if private and target != _package(rel):
                    bad.append(f"{rel}: from {node.module} import {alias.name}")
    assert bad == []


def test_promql_modules_import_at_module_level_only() -> None:
    lazy = []
    for rel, tree in _modules():
        if not rel.startswith("promql/"):
            continue
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                lazy += [f"{rel}:{n.lineno}" for n in ast.walk(fn)
                         if isinstance(n, ast.Import | ast.ImportFrom)]
    assert lazy == []


def test_every_error_class_derives_from_tidewell_error() -> None:
    strays = []
    for info in pkgutil.walk_packages(tidewell.__path__, "tidewell."):
        rel = info.name.removeprefix("tidewell.").replace(".", "/")
        if (rel + ".py").startswith(PENDING) or (rel + "/").startswith(PENDING) \
                or rel == "__main__":
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and issubclass(obj, BaseException)
                    and obj.__module__ == info.name and not issubclass(obj, TidewellError)):
                strays.append(f"{info.name}.{name}")
    assert strays == []


TESTS = Path(__file__).resolve().parents[1]
_ACCESSORS = frozenset({"getattr", "setattr", "hasattr", "delattr"})


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _defined_names(tree: ast.AST, *, own_attributes_only: bool = False) -> set[str]:
    """Private names a file defines: functions, classes, variables, attributes it assigns.

    ``own_attributes_only``: an assigned attribute counts only on ``self``/``cls``
    (a test's own class), not when the file sets it on somebody else's object.
    """
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and (
            not own_attributes_only
            or (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        ):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias) and node.asname:
            names.add(node.asname)
    return {n for n in names if _private(n)}


def _src_private_names() -> set[str]:
    names = {p.stem for p in SRC.rglob("_*.py") if _private(p.stem)}
    names |= {p.name for p in SRC.rglob("_*") if p.is_dir() and _private(p.name)}
    for _, tree in _modules():
        names |= _defined_names(tree)
    return names


def _private_uses(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, name) of each private name the file reads off an object or imports."""
    uses = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            uses.append((node.lineno, node.attr))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tidewell"):
            parts = node.module.split(".") + [a.name for a in node.names]
            uses += [(node.lineno, p) for p in parts if _private(p)]
        elif isinstance(node, ast.Import):
            uses += [(node.lineno, p) for a in node.names if a.name.startswith("tidewell")
                     for p in a.name.split(".") if _private(p)]
        elif (isinstance(node, ast.Call) and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
              and _private(node.args[1].value)
              and getattr(node.func, "attr", getattr(node.func, "id", "")) in _ACCESSORS):
            uses.append((node.lineno, node.args[1].value))
    return uses


def test_tests_use_no_private_name_of_src() -> None:
    """Tests go through public behaviour or a public seam, never ``obj._x`` of ours."""
    src_names = _src_private_names()
    bad = []
    for path in sorted(TESTS.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        own = _defined_names(tree, own_attributes_only=True)
        rel = path.relative_to(TESTS).as_posix()
        bad += [f"{rel}:{line}: {name}" for line, name in _private_uses(tree)
                if name in src_names and name not in own]
    assert bad == []
