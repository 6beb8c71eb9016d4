"""The deduplicate filter over compaction sources, shared by compactor and read path."""

from __future__ import annotations

import json
from pathlib import Path

from tidewell.objstore import FilesystemBucket
from tidewell.objstore.blockdedup import BlockSources, BlockSourcesCache, find_successors


def bs(block_id: str, *sources: str, shard: str = "", level: int = 1) -> BlockSources:
    return BlockSources(block_id, frozenset(sources or (block_id,)), shard, level)


def test_sources_inside_another_block_of_the_same_shard_are_replaced() -> None:
    a, b, x, y = bs("A"), bs("B"), bs("X"), bs("Y")
    c = bs("C", "A", "B", level=2)
    d = bs("D", "A", "B", "X", "Y", level=3)
    lone = bs("L")
    got = find_successors([a, b, x, y, c, d, lone])
    assert {k: v.block_id for k, v in got.items()} == {
        "A": "D", "B": "D", "X": "D", "Y": "D", "C": "D"}
    # Without D, C replaces its own sources only.
    assert {k: v.block_id for k, v in find_successors([a, b, x, c]).items()} == {
        "A": "C", "B": "C"}
    # A split output (another shard) never replaces its unsharded sources.
    s1 = bs("S1", "A", "B", shard="1_of_2", level=2)
    assert find_successors([a, b, s1]) == {}
    # Equal sources: the lowest ID stays.
    assert {k: v.block_id for k, v in find_successors(
        [bs("C2", "A", "B", level=2), c]).items()} == {"C2": "C"}


def test_cache_reads_each_meta_once_and_unreadable_blocks_replace_nothing(
        tmp_path: Path) -> None:
    bucket = FilesystemBucket(tmp_path, fsync=False)
    ulid_a, ulid_c = "01JBQ8Z3M7XG5W0N7C2K4Y9D1A", "01JBQ8Z3M7XG5W0N7C2K4Y9D1C"
    meta = {"ulid": ulid_c, "version": 1, "minTime": 0, "maxTime": 1,
            "compaction": {"level": 2, "sources": [ulid_a, "01JBQ8Z3M7XG5W0N7C2K4Y9D1B"]}}
    bucket.put(f"{ulid_c}/meta.json", json.dumps(meta).encode())
    cache = BlockSourcesCache()
    got = {s.block_id: s for s in cache.get(bucket, "t", [ulid_a, ulid_c])}
    assert got[ulid_a].sources == {ulid_a}  # no meta.json: its own source
    assert got[ulid_c].level == 2 and ulid_a in got[ulid_c].sources
    bucket.delete(f"{ulid_c}/meta.json")
    assert {s.block_id: s for s in cache.get(bucket, "t", [ulid_c])}[ulid_c].level == 2  # cached
    cache.forget("t", [])
    assert {s.block_id: s for s in cache.get(bucket, "t", [ulid_c])}[ulid_c].level == 1
