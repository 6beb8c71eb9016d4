"""The hour scenario refuses, before starting anything, what it cannot run."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.scenarios import DEFAULT_SCENARIOS, SCENARIOS, SERVER_CORES, hour
from benchmarks.scenarios.common import Context


def test_refuses_without_room_for_the_data(tmp_path: Path) -> None:
    # 10^12 series x 240 samples cannot fit on any disk here
    with pytest.raises(SystemExit, match=r"GiB free under .* need about"):
        hour.run(Context(workdir=tmp_path, scale=1e6))
    assert list(tmp_path.iterdir()) == []  # no server was started


def test_refuses_loads_the_streaming_encoder_cannot_make(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="--protocol 1 and --churn 0"):
        hour.run(Context(workdir=tmp_path, protocol=2))


def test_registered_on_request_only_with_both_cores() -> None:
    assert SCENARIOS["hour"] is hour.run
    assert "hour" not in DEFAULT_SCENARIOS
    assert SERVER_CORES["hour"] == "0,1"
