"""Fixtures for distributor tests."""

from __future__ import annotations

import pytest

from tests.unit.distributor.helpers import Harness


@pytest.fixture
def harness() -> Harness:
    return Harness()
