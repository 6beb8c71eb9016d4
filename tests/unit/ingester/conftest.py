"""Ingester unit tests share the helpers in ``tests.support.ingester``."""

from __future__ import annotations

import pytest

from tests.support.ingester import make_batch, new_ingester, new_log, record

__all__ = ["make_batch", "new_ingester", "new_log", "record"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
