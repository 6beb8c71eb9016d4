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


TESTS = Path(__file__).resolve().parents[1]
# Tests still reaching into a private name (owned elsewhere; listed so new ones fail).
TESTS_PENDING: tuple[str, ...] = ("unit/test_cli.py",)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_test_uses_a_private_name_of_the_source() -> None:
    """Tests go through public names: ``from tidewell.x._y import z``, ``import
    tidewell.x._y``, ``from tidewell.x import _z``, and ``m._z`` / ``setattr(m, "_z")``
    on a name imported from ``tidewell`` all fail."""
    bad = []
    for path in sorted(TESTS.rglob("*.py")):
        rel = path.relative_to(TESTS).as_posix()
        if rel.startswith(TESTS_PENDING):
            continue
        tree = ast.parse(path.read_text(), rel)
        bound: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tidewell"):
                for alias in node.names:
                    if _private(alias.name) or any(map(_private, node.module.split("."))):
                        bad.append(f"{rel}:{node.lineno} from {node.module} import {alias.name}")
                    bound.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("tidewell"):
                        if any(map(_private, alias.name.split("."))):
                            bad.append(f"{rel}:{node.lineno} import {alias.name}")
                        bound.add(alias.asname or "tidewell")
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in bound and _private(node.attr)):
                bad.append(f"{rel}:{node.lineno} {node.value.id}.{node.attr}")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr == "setattr" and len(node.args) >= 2
                  and isinstance(node.args[0], ast.Name) and node.args[0].id in bound
                  and isinstance(node.args[1], ast.Constant)
                  and _private(str(node.args[1].value))):
                bad.append(f"{rel}:{node.lineno} setattr({node.args[0].id}, "
                           f"{node.args[1].value!r})")
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
