"""Session-wide set-up: the Numba cache is filled once before Tidewell processes start."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.numba_cache import cache_is_cold, warm_up

PROCESS_TESTS = ("e2e", "integration")  # the directories whose tests start `tidewell`


def pytest_collection_finish(session: pytest.Session) -> None:
    tests = Path(__file__).parent
    starts_processes = any(
        Path(item.path).is_relative_to(tests / d) for item in session.items for d in PROCESS_TESTS)
    if starts_processes and cache_is_cold():
        try:
            warm_up()
        except Exception as exc:  # the tests still run; those that need tidewell say why
            session.config.get_terminal_writer().line(
                f"Numba cache warm-up failed: {exc!r}", yellow=True)
