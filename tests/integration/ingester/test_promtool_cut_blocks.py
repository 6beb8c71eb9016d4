"""Blocks cut from a head are Prometheus blocks: ``promtool tsdb list/analyze/dump`` read
them, and the dump is exactly what was ingested (in-order and out-of-order blocks)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tidewell.ingester.head_cutting import compact_head, local_blocks
from tidewell.model import SampleBatch
from tidewell.tsdb.head import Head

from ..tsdb.tsdb_helpers import dump_samples, realistic_series, rows_of, run_promtool

pytestmark = pytest.mark.timeout(120)

RANGE = 20 * 60_000  # 20m blocks over an hour and a half of 15s scrapes


def test_promtool_reads_head_cut_blocks_and_dump_equals_ingested(tmp_path: Path) -> None:
    series = realistic_series(60, hours=1.5, specials=True)
    head = Head(RANGE)
    labels = [ls for ls, _, _ in series]
    n = series[0][1].shape[0]
    ooo_window = 30 * 60_000
    for k in range(n):  # one scrape of every series at a time, as an ingester sees them
        head.append(SampleBatch(
            labels, np.arange(len(labels), dtype=np.int32),
            np.array([ts[k] for _, ts, _ in series], dtype=np.int64),
            np.array([vs[k] for _, _, vs in series]),
        ), ooo_window_ms=ooo_window)
    tenant_dir = tmp_path / "tsdb" / "team-a"
    metas, before = compact_head(head, tenant_dir, 0)
    assert len(metas) == 3 and before is not None
    head.truncate(before)
    # Late samples for an already-cut range: accepted by the window, cut as ooo blocks.
    late_t = before - 7_500
    late = [(ls, late_t + i, float(i)) for i, ls in enumerate(labels[:5])]
    res = head.append(SampleBatch(
        [x[0] for x in late], np.arange(5, dtype=np.int32),
        np.array([x[1] for x in late], dtype=np.int64), np.array([x[2] for x in late]),
    ), ooo_window_ms=ooo_window)
    assert res.rejected_total == 0
    ooo_metas, _ = compact_head(head, tenant_dir, 1)
    assert len(ooo_metas) == 1
    blocks = local_blocks(tenant_dir)
    assert len(blocks) == 4
    meta = json.loads((tenant_dir / ooo_metas[0].ulid / "meta.json").read_text())
    assert meta["compaction"]["hints"] == ["from-out-of-order"]

    listed = run_promtool("tsdb", "list", str(tenant_dir))
    assert all(b.name in listed for b in blocks)
    for b in blocks:
        out = run_promtool("tsdb", "analyze", str(tenant_dir), b.name)
        assert "Block ID: " + b.name in out

    want = rows_of([
        (ls, ts[ts < before], vs[ts < before]) for ls, ts, vs in series
    ]) + rows_of([(ls, np.array([t]), np.array([v])) for ls, t, v in late])
    got = dump_samples(tenant_dir)
    assert len(got) == len(want)
    assert got == sorted(want)
