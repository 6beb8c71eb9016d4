"""Session-wide set-up: the Numba cache is filled once before Tidewell processes start.

The tests that start no process (unit, conformance) run first, while one ``tidewell``
process fills a cold cache beside them (tests/support/numba_cache.py): on two cores the
warm-up's compile takes the core those in-process tests leave idle. The first test that
starts processes waits for it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.support.numba_cache import cache_is_cold, warm_up

PROCESS_TESTS = ("e2e", "integration")  # the directories whose tests start `tidewell`
TESTS = Path(__file__).parent


def starts_processes(item: pytest.Item) -> bool:
    return any(Path(item.path).is_relative_to(TESTS / d) for d in PROCESS_TESTS)


class WarmUp:
    """The warm-up running in a thread; ``wait`` reports its failure once."""

    thread: threading.Thread | None = None
    error: Exception | None = None

    @classmethod
    def start(cls) -> None:
        def run() -> None:
            try:
                warm_up()
            except Exception as exc:  # the tests still run; those that need tidewell say why
                cls.error = exc

        cls.thread = threading.Thread(target=run, name="numba-warm-up", daemon=True)
        cls.thread.start()

    @classmethod
    def wait(cls, config: pytest.Config) -> None:
        thread, cls.thread = cls.thread, None
        if thread is None:
            return
        thread.join()
        if cls.error is not None:
            config.get_terminal_writer().line(
                f"Numba cache warm-up failed: {cls.error!r}", yellow=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests without processes first (stable: the order within each part is kept)."""
    items.sort(key=starts_processes)


def pytest_collection_finish(session: pytest.Session) -> None:
    if any(starts_processes(item) for item in session.items) and cache_is_cold():
        WarmUp.start()


def pytest_runtest_setup(item: pytest.Item) -> None:
    if starts_processes(item):
        WarmUp.wait(item.config)


def pytest_sessionfinish(session: pytest.Session) -> None:
    WarmUp.wait(session.config)  # no warm-up process outlives the run
