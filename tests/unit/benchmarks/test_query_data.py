"""The query scenario's dataset: the label layout the 12 queries rely on, and its block."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.query_data import SERIES_PER_TARGET, QueryDataset
from tidewell.model import Matcher, MatchType
from tidewell.tsdb.block import BlockReader


def test_layout_gives_the_issue_selector_one_series_per_target() -> None:
    ds = QueryDataset(targets=8)
    assert ds.series == 8 * SERIES_PER_TARGET == 400
    assert all(list(lb) == sorted(lb) for lb in ds.labels)
    assert len(set(ds.labels)) == ds.series
    h0 = [lb for lb in ds.labels if ("handler", "h0") in lb and ("code", "200") in lb]
    assert len(h0) == 8


def test_buckets_are_cumulative_and_counters_grow() -> None:
    ds = QueryDataset(targets=2)
    first = ("instance", "10.0.0.0:9100")
    buckets = [i for i, lb in enumerate(ds.labels)
               if lb[0][1] == "bench_request_duration_seconds_bucket" and first in lb]
    vals = np.stack([ds.values(i, 0, 50) for i in buckets])
    assert bool(np.all(np.diff(vals, axis=0) >= 0)) and bool(np.all(np.diff(vals, axis=1) >= 0))
    assert np.array_equal(ds.values(0, 0, 50), ds.values(0, 0, 50))


def test_push_rounds_and_block_hold_every_sample(tmp_path: Path) -> None:
    ds = QueryDataset(targets=2)
    rounds = list(ds.push_rounds(1_700_000_000_000, 3, shards=2, per_request=30))
    assert sum(r.samples for rd in rounds for shard in rd for r in shard) == 3 * ds.series
    path = ds.write_block(tmp_path, 0, 480, block_range_ms=480 * 15_000)
    with BlockReader(path) as block:
        assert block.meta.num_samples == 480 * ds.series
        got = block.querier(0, 480 * 15_000).select(
            [Matcher(MatchType.EQUAL, "__name__", "bench_target_info")])
        assert len(got) == 2 and all(len(s) == 480 for s in got)
