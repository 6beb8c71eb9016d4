"""Session-wide set-up: the Numba cache is filled once before Tidewell processes start, and
every test under e2e/ and integration/ is marked ``serial``.

``make test`` runs the ``serial`` tests one at a time (they start processes, brokers and
clusters, or bound wall-clock time), then the others on two pytest-xdist workers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.numba_cache import cache_is_cold, warm_up

PROCESS_TESTS = ("e2e", "integration")  # the directories whose tests start `tidewell`


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent
    for item in items:
        if any(Path(item.path).is_relative_to(tests / d) for d in PROCESS_TESTS):
            item.add_marker(pytest.mark.serial)


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
