"""`make test` names the directories of its parallel run (Makefile): a test module anywhere
else would run in neither of its two runs unless it were marked ``serial``."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import PROCESS_TESTS

TESTS = Path(__file__).resolve().parents[1]
PARALLEL = ("conformance", "unit")  # `make test`'s -n 2 run, in this order


def test_every_test_module_is_in_a_directory_make_test_runs() -> None:
    tops = {p.relative_to(TESTS).parts[0] for p in TESTS.rglob("test_*.py")}
    assert tops <= {*PARALLEL, *PROCESS_TESTS}, tops


def test_the_makefile_runs_the_parallel_directories() -> None:
    makefile = (TESTS.parent / "Makefile").read_text()
    assert "-n 2 " + " ".join(f"tests/{d}" for d in PARALLEL) in makefile
