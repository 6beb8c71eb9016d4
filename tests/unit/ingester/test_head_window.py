"""Head cuts against the appendable window: nothing accepted is lost or doubled.

A random workload of late, early and new-series samples across many block
ranges, with the ingester's head cut (``compact_head`` + truncate) after every
batch. The samples the head accepts are exactly those of a model, sample by
sample: Prometheus's rules, except that a sample older than the appendable
window (Prometheus's out of bounds; here already acknowledged by the log) is
stored out of order whatever the out-of-order window. Every accepted sample
ends up once in a block or in the head, in-order blocks never overlap, and
late samples of ranges already cut land in out-of-order blocks, one per range.
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import pytest

from tests.support.ingester import make_batch as batch
from tidewell.ingester.head_cutting import OUT_OF_ORDER_HINT, compact_head
from tidewell.model import Labels
from tidewell.tsdb.block import BlockReader
from tidewell.tsdb.head import Head, HeadQuerier

pytestmark = pytest.mark.timeout(120)

R = 60_000
INT64_MIN = -(2**63)


def run_workload(tmp_path: Path, seed: int, ooo_window_ms: int) -> None:
    rng = random.Random(seed)
    head = Head(R)
    series = [Labels.from_dict({"__name__": "m", "i": str(i)}) for i in range(12)]
    model: dict[Labels, dict[int, float]] = {}
    newest, min_valid = INT64_MIN, INT64_MIN
    metas = []
    late_total = 0
    for step in range(300):
        samples = []
        used: set[tuple[Labels, int]] = set()
        for _ in range(rng.randint(1, 12)):
            ls = rng.choice(series[: 4 + step // 30])  # new series keep appearing
            base = newest if newest != INT64_MIN else 0
            ts = base + rng.randint(-3 * R // 4, R // 4)  # up to 3/4 of a range late,
            if rng.random() < 0.02:  # or several ranges (below ranges already cut)
                ts = base - rng.randint(R, 6 * R)
            if (ls, ts) in used or ts in model.get(ls, {}):
                continue
            used.add((ls, ts))
            samples.append((ls, ts, float(rng.randint(0, 9))))
        res = head.append(batch(samples), ooo_window_ms=ooo_window_ms)
        # The model: in order from max(min valid time, newest - R/2); out of order
        # within the window of the newest sample before the batch; older than the
        # in-order floor: late, stored out of order.
        floor = max(min_valid, newest - R // 2) if newest != INT64_MIN else min_valid
        accepted = late = 0
        batch_newest = newest
        for ls, ts, v in samples:
            cur = model.setdefault(ls, {})
            last = max(cur) if cur else INT64_MIN
            in_order = ts > last and ts >= floor
            ooo = ooo_window_ms > 0 and (newest == INT64_MIN or ts >= newest - ooo_window_ms)
            if in_order or ooo or ts < floor:
                cur[ts] = v
                accepted += 1
                late += not in_order and not ooo
                batch_newest = max(batch_newest, ts)
        newest = batch_newest
        assert (res.accepted, res.late) == (accepted, late), step
        assert res.accepted + res.rejected_total == len(samples), step
        late_total += late
        cut, before = compact_head(head, tmp_path / "t", step)
        if before is not None:
            head.truncate(before)
            min_valid = max(min_valid, before)
            metas.extend(cut)
    got: dict[Labels, dict[int, float]] = {}
    for s in HeadQuerier(head, INT64_MIN + 1, 2**62).select([]):
        for t, v in zip(s.timestamps.tolist(), s.values.tolist(), strict=True):
            got.setdefault(s.labels, {})[t] = v
    in_order_ranges = []
    ooo_blocks = 0
    for meta in metas:
        with BlockReader(tmp_path / "t" / meta.ulid) as b:
            for s in b.querier(meta.min_time, meta.max_time).select([]):
                for t, v in zip(s.timestamps.tolist(), s.values.tolist(), strict=True):
                    assert t not in got.get(s.labels, {}), (s.labels, t)  # held once
                    got.setdefault(s.labels, {})[t] = v
        doc = json.loads((tmp_path / "t" / meta.ulid / "meta.json").read_text())
        if OUT_OF_ORDER_HINT not in doc["compaction"].get("hints", []):
            in_order_ranges.append((meta.min_time, meta.max_time))
        else:  # an out-of-order block holds one aligned range
            ooo_blocks += 1
            assert meta.min_time // R == (meta.max_time - 1) // R, meta
    assert got == {k: v for k, v in model.items() if v}
    assert len(metas) >= 3
    assert late_total > 20 and ooo_blocks > 3  # late samples of ranges already cut
    in_order_ranges.sort()
    for (_, hi), (lo, _) in itertools.pairwise(in_order_ranges):
        assert hi <= lo  # in-order blocks never overlap


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cuts_keep_every_accepted_sample_without_ooo_window(tmp_path: Path, seed: int) -> None:
    run_workload(tmp_path, seed, 0)


@pytest.mark.parametrize("seed", [4, 5])
def test_cuts_keep_every_accepted_sample_with_ooo_window(tmp_path: Path, seed: int) -> None:
    run_workload(tmp_path, seed, 2 * R)
