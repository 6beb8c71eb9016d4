"""A corrupt block gets Mimir's no-compact mark and is skipped; the tenant's other jobs
run, and later runs leave the marked block alone."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from prometheus_client import REGISTRY

from tidewell.compactor.compactor import Compactor
from tidewell.compactor.config import CompactorConfig
from tidewell.compactor.job import upload_block
from tidewell.compactor.marks import mark_for_no_compaction, no_compact_marked
from tidewell.model import Labels
from tidewell.objstore import FilesystemBucket, tenant_bucket
from tidewell.tsdb.block import write_block

H = 3_600_000
T0 = 1_699_920_000_000
TENANT = "t1"


def zone_copies(bucket: FilesystemBucket, local: Path, window: int) -> list[str]:
    lo = T0 + window * 2 * H
    ts = np.arange(lo, lo + 2 * H, 60_000, dtype=np.int64)
    series = [(Labels.from_dict({"__name__": "m", "i": str(i)}), ts, ts / 1e3) for i in range(5)]
    ids = []
    for zone in ("a", "b"):
        path, meta = write_block(local / zone, series, min_time=lo, max_time=lo + 2 * H)
        upload_block(tenant_bucket(bucket, TENANT), path)
        ids.append(meta.ulid)
    return ids


def marked_total(reason: str) -> float:
    return REGISTRY.get_sample_value(
        "cortex_compactor_blocks_marked_for_no_compaction_total", {"reason": reason}) or 0.0


def test_corrupt_block_is_marked_no_compact_and_the_rest_compacts(tmp_path: Path) -> None:
    bucket = FilesystemBucket(tmp_path / "bucket", fsync=False)
    bad_window = zone_copies(bucket, tmp_path / "local", 0)
    good_window = zone_copies(bucket, tmp_path / "local", 1)
    bad = bad_window[0]
    index = bucket.root / TENANT / bad / "index"
    data = bytearray(index.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = b"\xff" * 64  # breaks a table's CRC
    index.write_bytes(bytes(data))

    now = time.time() + 3600  # past the first-level wait
    comp = Compactor(bucket, CompactorConfig(block_ranges=["2h"]), tmp_path / "work",
                     clock=lambda: now)
    before = marked_total("critical")
    assert comp.compact()  # the tenant's run succeeds: the bad block is skipped, not fatal
    assert marked_total("critical") == before + 1
    tb = tenant_bucket(bucket, TENANT)
    assert no_compact_marked(tb) == {bad}
    mark = json.loads(tb.get(f"{bad}/no-compact-mark.json"))
    assert mark == json.loads(tb.get(f"markers/{bad}-no-compact-mark.json"))
    assert set(mark) == {"id", "version", "details", "no_compact_time", "reason"}
    assert (mark["id"], mark["version"], mark["reason"]) == (bad, 1, "critical")
    assert mark["no_compact_time"] == int(now) and "index" in mark["details"]

    live = {b.block_id: b for b in comp.live_blocks(TENANT)}
    # Window 1's zone copies became one block; window 0 keeps its healthy copy, unmerged.
    assert bad not in live and bad_window[1] in live
    assert not set(good_window) & live.keys()
    assert sorted(b.sources for b in live.values() if b.block_id != bad_window[1]) == [
        frozenset(good_window)]
    # Later runs leave it alone (nothing to plan, nothing marked again).
    assert comp.compact() and marked_total("critical") == before + 1
    assert comp.plan_tenant(TENANT) == []


def test_mark_format_and_manual_reason(tmp_path: Path) -> None:
    bucket = FilesystemBucket(tmp_path / "bucket", fsync=False)
    ids = zone_copies(bucket, tmp_path / "local", 0)
    tb = tenant_bucket(bucket, TENANT)
    assert mark_for_no_compaction(tb, ids[0], "manual", "operator said so", 1_700_000_000)
    assert not mark_for_no_compaction(tb, ids[0], "manual", "again", 1_700_000_001)
    assert json.loads(tb.get(f"{ids[0]}/no-compact-mark.json"))["no_compact_time"] == 1_700_000_000
    comp = Compactor(bucket, CompactorConfig(block_ranges=["2h"]), tmp_path / "work",
                     clock=lambda: 1e10)
    assert [b.block_id for b in comp.live_blocks(TENANT)] == [ids[1]]
