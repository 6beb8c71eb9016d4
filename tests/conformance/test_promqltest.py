"""Prometheus's PromQL test scripts against our engine, held to a recorded baseline.

Each script's passed/failed counts (floats and native histograms apart) are
printed; a script whose float or histogram pass count drops below
``baseline.json`` fails. Raise the baseline with
``TIDEWELL_UPDATE_BASELINE=1 pytest tests/conformance``. Float failures are
always listed; native-histogram failures too with ``TIDEWELL_CONFORMANCE_VERBOSE=1``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from promqltest import Outcome, conformance_dir, run_file

BASELINE = Path(__file__).parent / "baseline.json"


def _counts(outs: list[Outcome]) -> dict[str, int]:
    c = {"passed": 0, "failed": 0, "histogram_passed": 0, "histogram_failed": 0}
    for o in outs:
        key = ("histogram_" if o.histogram else "") + ("passed" if o.ok else "failed")
        c[key] += 1
    return c


@pytest.fixture(scope="module")
def results() -> dict[str, list[Outcome]]:
    d = conformance_dir()
    files = sorted(d.glob("*.test")) if d.is_dir() else []
    if not files:
        pytest.fail(f"PromQL conformance scripts not found in {d}; set TIDEWELL_CONFORMANCE_DIR "
                    "to the directory holding Prometheus's promqltest *.test files")
    return {f.name: run_file(f) for f in files}


@pytest.mark.timeout(180)
def test_conformance_against_baseline(results: dict[str, list[Outcome]],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    counts = {name: _counts(outs) for name, outs in results.items()}
    total = {k: sum(c[k] for c in counts.values()) for k in next(iter(counts.values()))}
    lines = []
    verbose = bool(os.environ.get("TIDEWELL_CONFORMANCE_VERBOSE"))
    for outs in results.values():
        for o in outs:
            if not o.ok and (verbose or not o.histogram):
                lines.append(f"  FAIL {o.file}:{o.line} {o.expr}\n       {o.message[:200]}")
    for name, c in counts.items():
        lines.append(f"{name:28s} float {c['passed']:4d} passed {c['failed']:4d} failed | "
                     f"native histogram {c['histogram_passed']:4d} passed "
                     f"{c['histogram_failed']:4d} failed")
    lines.append(f"{'TOTAL':28s} float {total['passed']:4d} passed {total['failed']:4d} failed | "
                 f"native histogram {total['histogram_passed']:4d} passed "
                 f"{total['histogram_failed']:4d} failed")
    with capsys.disabled():
        print("\n" + "\n".join(lines))
    if os.environ.get("TIDEWELL_UPDATE_BASELINE"):
        BASELINE.write_text(json.dumps(
            {n: {"passed": c["passed"], "histogram_passed": c["histogram_passed"]}
             for n, c in counts.items()}, indent=1, sort_keys=True) + "\n")
    regressions = []
    for name, want in baseline.items():
        got = counts.get(name)
        if got is None:
            regressions.append(f"{name}: script missing")
            continue
        for key in ("passed", "histogram_passed"):
            if got[key] < want.get(key, 0):
                regressions.append(f"{name}: {key} {got[key]} < baseline {want[key]}")
    assert not regressions, "conformance regressed:\n" + "\n".join(regressions)


def test_runner_detects_failures(tmp_path: Path) -> None:
    """A wrong expectation must count as a failure, never as a pass."""
    script = tmp_path / "x.test"
    script.write_text("load 1m\n  m{a=\"1\"} 1 2 3\n\neval instant at 2m m\n  m{a=\"1\"} 4\n\n"
                      "eval instant at 2m m\n  m{a=\"1\"} 3\n\neval range from 0 to 2m step 1m "
                      "m * 2\n  {a=\"1\"} 2 4 6\n")
    outs = run_file(script)
    assert [o.ok for o in outs] == [False, True, True]


def test_runner_compares_histograms(tmp_path: Path) -> None:
    """Histogram expectations are compared bucket by bucket, hints only when written."""
    script = tmp_path / "h.test"
    script.write_text(
        "load 1m\n  h {{schema:0 sum:4 count:4 buckets:[1 2 1]}}+"
        "{{sum:2 count:1 buckets:[1]}}x2\n\n"
        "eval instant at 2m h\n  h {{schema:0 sum:8 count:6 buckets:[3 2 1]}}\n\n"
        "eval instant at 2m h\n  h {{schema:0 sum:8 count:6 buckets:[3 2 2]}}\n\n"
        "eval instant at 2m h\n  h {{schema:0 sum:8 count:6 buckets:[3 2 1] "
        "counter_reset_hint:gauge}}\n\n"
        "eval range from 0 to 2m step 1m histogram_count(h)\n  {} 4 5 6\n\n"
        "eval instant at 2m h\n  h 6\n")
    outs = run_file(script)
    assert [o.ok for o in outs] == [True, False, False, True, False]
    assert all(o.histogram for o in outs)
