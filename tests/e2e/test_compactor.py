"""The compactor in ``tidewell`` (target all): shipped 5m blocks become larger blocks,
sources are deleted after the deletion delay, and every sample is still served once."""

from __future__ import annotations

import json
import shutil
import signal
import time
from collections import Counter

import httpx

from tests.e2e.conftest import TidewellProcess
from tests.e2e.test_blocks import FAST_BLOCKS, metric, push_hours, stored

HOUR = 3_600_000
FAST_COMPACTOR = [
    "-compactor.block-ranges=5m,30m,1h",
    "-compactor.first-level-compaction-wait-period=0",
    "-compactor.compaction-interval=1s",
    "-compactor.cleanup-interval=1s",
    "-compactor.deletion-delay=2s",
    # Store-gateways stop loading marked sources at once (they still serve what they have).
    "-blocks-storage.bucket-store.ignore-deletion-marks-delay=0",
]


def _metas(tidewell: TidewellProcess) -> list[dict]:
    bucket = tidewell.data_dir / "bucket" / "anonymous"
    return [json.loads(p.read_text()) for p in bucket.glob("*/meta.json")]


def test_compactor_merges_shipped_blocks_and_queries_stay_exact(
    tidewell: TidewellProcess,
) -> None:
    tidewell.args = [*FAST_BLOCKS, *FAST_COMPACTOR]
    tidewell.start()
    end_ms = int(time.time() * 1000)
    total = push_hours(tidewell.url, end_ms)
    assert httpx.post(f"{tidewell.url}/ingester/flush", timeout=120).status_code == 204
    deadline = time.monotonic() + 120
    while not any(m["compaction"]["level"] >= 3 for m in _metas(tidewell)):
        assert time.monotonic() < deadline, "no 1h block was compacted"
        time.sleep(0.5)
    # Older hours end up as one block each (a lone 5m block stays as it is): sources are
    # deleted once marked longer than the deletion delay.
    old = end_ms // HOUR * HOUR  # windows before the newest block: compacted
    deadline = time.monotonic() + 60
    while crowded := {h: n for h, n in Counter(
            m["minTime"] // HOUR for m in _metas(tidewell) if m["maxTime"] <= old).items()
            if n > 1}:
        assert time.monotonic() < deadline, f"hours still holding several blocks: {crowded}"
        time.sleep(0.5)
    while metric(tidewell.url, "cortex_compactor_blocks_cleaned_total") < 1:
        assert time.monotonic() < deadline, "no block deleted"
        time.sleep(0.5)
    assert metric(tidewell.url, "cortex_compactor_runs_completed_total") >= 1
    assert metric(tidewell.url, "cortex_compactor_runs_failed_total") == 0
    assert stored(tidewell.url, end_ms) == total

    # Without the head, the compacted blocks alone serve every sample once.
    assert tidewell.stop(signal.SIGTERM) == 0
    shutil.rmtree(tidewell.data_dir / "tsdb")
    tidewell.start()
    deadline = time.monotonic() + 60
    while (got := stored(tidewell.url, end_ms)) != total:
        assert time.monotonic() < deadline, f"{got} of {total} samples served from blocks"
        time.sleep(0.5)
