"""Fixtures for TSDB integration tests: promtool and the shared helpers module."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

_HERE = Path(__file__).parent


def _load_helpers() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tsdb_helpers", _HERE / "tsdb_helpers.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_helpers = _load_helpers()


@pytest.fixture(scope="session")
def h() -> ModuleType:
    """The ``tsdb_helpers`` module (siblings are not importable under importlib mode)."""
    if not Path(_helpers.PROMTOOL).exists():
        pytest.fail("promtool not found: install the Debian 'prometheus' package")
    return _helpers
