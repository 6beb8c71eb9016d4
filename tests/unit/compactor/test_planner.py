"""Planning by Mimir's rules: windows, ranges, groups, wait period, deduplication."""

from __future__ import annotations

from tidewell.compactor.planner import PlanBlock, deduplicate, group_key, plan

H = 3600 * 1000
RANGES = [2 * H, 12 * H, 24 * H]
NOW = 1_000_000.0


def blk(name: str, lo_h: int, hi_h: int, level: int = 1, uploaded: float = 0.0,
        labels: tuple[tuple[str, str], ...] = (), sources: tuple[str, ...] = ()) -> PlanBlock:
    return PlanBlock(name, lo_h * H, hi_h * H, level, uploaded, labels,
                     frozenset(sources or (name,)))


def run(blocks: list[PlanBlock]) -> list[tuple[int, list[str]]]:
    jobs = plan(blocks, RANGES, now=NOW, first_level_wait_s=1500)
    return [(j.range_ms // H, sorted(b.block_id for b in j.blocks)) for j in jobs]


def test_zone_copies_of_one_2h_window_merge_smallest_range_oldest_first() -> None:
    blocks = [blk("a2", 2, 4), blk("b2", 2, 4), blk("a0", 0, 2), blk("b0", 0, 2), blk("a4", 4, 6)]
    assert run(blocks) == [(2, ["a0", "b0"]), (2, ["a2", "b2"])]


def test_12h_window_compacted_when_full_or_no_longer_newest() -> None:
    twelve = [blk(f"x{i}", i, i + 2, level=2) for i in range(0, 12, 2)]
    assert run(twelve) == [(12, sorted(b.block_id for b in twelve))]
    partial = twelve[:3]
    assert run(partial) == []  # newest window, not full: wait for more blocks
    assert run([*partial, blk("later", 12, 14, level=2)]) == [(12, ["x0", "x2", "x4"])]


def test_larger_ranges_wait_for_overlapping_smaller_jobs_and_skip_crossing_blocks() -> None:
    blocks = [blk("a0", 0, 2), blk("b0", 0, 2), blk("c", 2, 4, level=2), blk("d", 4, 6, level=2),
              blk("cross", 11, 13, level=2), blk("n", 24, 26, level=2)]
    assert run(blocks) == [(2, ["a0", "b0"])]  # the 12h and 24h jobs wait for it
    merged = blk("m0", 0, 2, level=2, sources=("a0", "b0"))
    # "cross" spans the 12h boundary: left out at 12h, merged at 24h once that window is not
    # the newest; the 12h job comes first and the overlapping 24h job waits for it.
    assert run([merged, *blocks[2:]]) == [(12, ["c", "d", "m0"])]
    after = [blk("m12", 0, 6, level=3, sources=("a0", "b0", "c", "d")), *blocks[4:]]
    assert run(after) == [(24, ["cross", "m12"])]


def test_fresh_first_level_blocks_wait_and_groups_ignore_shard_and_ingester_labels() -> None:
    fresh = [blk("a0", 0, 2, uploaded=NOW - 60), blk("b0", 0, 2, uploaded=NOW - 60)]
    assert run(fresh) == []
    assert run([blk("a0", 0, 2, uploaded=NOW - 1600), blk("b0", 0, 2, uploaded=NOW - 1600)])
    assert group_key((("__ingester_id__", "i1"), ("zone", "x"))) == group_key((("zone", "x"),))
    other = [blk("a0", 0, 2, labels=(("team", "a"),)), blk("b0", 0, 2, labels=(("team", "b"),))]
    assert run(other) == []


def test_deduplicate_drops_blocks_contained_in_a_compacted_block() -> None:
    merged = blk("m", 0, 2, level=2, sources=("a0", "b0"))
    kept, dups = deduplicate([blk("a0", 0, 2), merged, blk("b0", 0, 2), blk("c", 2, 4)])
    assert [b.block_id for b in kept] == ["m", "c"]
    assert sorted(b.block_id for b in dups) == ["a0", "b0"]


def test_split_and_merge_splits_unsharded_blocks_then_merges_per_shard() -> None:
    blocks = [blk("a0", 0, 2), blk("b0", 0, 2)]
    jobs = plan(blocks, RANGES, now=NOW, first_level_wait_s=0, split_shards=2, split_groups=1)
    assert [(j.stage, j.split_shards, sorted(b.block_id for b in j.blocks)) for j in jobs] == [
        ("split", 2, ["a0", "b0"])]
    grouped = plan(blocks, RANGES, now=NOW, first_level_wait_s=0, split_shards=2,
                   split_groups=8)
    assert sorted(b.block_id for j in grouped for b in j.blocks) == ["a0", "b0"]
    sharded = [blk(f"s{i}{z}", 0, 2, level=2, labels=(("__compactor_shard_id__", f"{i}_of_2"),))
               for i in (1, 2) for z in "ab"]
    jobs = plan(sharded, RANGES, now=NOW, first_level_wait_s=0, split_shards=2)
    assert [(j.stage, j.shard_id, sorted(b.block_id for b in j.blocks)) for j in jobs] == [
        ("merge", "1_of_2", ["s1a", "s1b"]), ("merge", "2_of_2", ["s2a", "s2b"])]
    assert jobs[0].labels == {"__compactor_shard_id__": "1_of_2"}


def test_shard_blocks_of_one_split_do_not_cover_each_other_or_their_sources() -> None:
    shard = (("__compactor_shard_id__", "1_of_2"),)
    s1 = blk("s1", 0, 2, level=2, labels=shard, sources=("a0", "b0"))
    s2 = blk("s2", 0, 2, level=2, labels=(("__compactor_shard_id__", "2_of_2"),),
             sources=("a0", "b0"))
    kept, dups = deduplicate([s1, s2, blk("a0", 0, 2), blk("b0", 0, 2)])
    assert dups == [] and len(kept) == 4
