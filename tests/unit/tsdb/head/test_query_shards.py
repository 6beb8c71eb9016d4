"""The head and local blocks honour ``__query_shard__``: each shard selects exactly the
series whose label hash falls in it, and the shards together select everything."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support.ingester import make_batch
from tidewell.model import Labels, Matcher, MatchType
from tidewell.model.shard import InvalidShardError, ShardSelector
from tidewell.tsdb.block import BlockReader, write_block
from tidewell.tsdb.head import Head, HeadQuerier

SERIES = [Labels([("__name__", "m"), ("i", str(i)), ("job", f"j{i % 3}")]) for i in range(90)]
NAME = Matcher(MatchType.EQUAL, "__name__", "m")
JOB = Matcher(MatchType.EQUAL, "job", "j1")


def _check(querier: object, shards: int = 4) -> None:
    whole = {s.labels: s.values.tolist() for s in querier.select([NAME, JOB])}  # type: ignore[attr-defined]
    assert len(whole) == 30
    union: dict[Labels, list[float]] = {}
    for i in range(shards):
        shard = ShardSelector(i, shards)
        got = querier.select([NAME, shard.matcher(), JOB])  # type: ignore[attr-defined]
        assert got and all(shard.owns(s.labels) for s in got)
        assert not set(union) & {s.labels for s in got}
        union.update({s.labels: s.values.tolist() for s in got})
    assert union == whole


def test_head_select_by_shard() -> None:
    head = Head()
    for t in range(0, 60_000, 15_000):
        head.append(make_batch([(lb, t, float(t + i)) for i, lb in enumerate(SERIES)]))
    q = HeadQuerier(head, 0, 60_000)
    _check(q)
    with pytest.raises(InvalidShardError):
        q.select([NAME, Matcher(MatchType.EQUAL, "__query_shard__", "5_of_4")])


def test_block_select_by_shard(tmp_path: Path) -> None:
    ts = np.arange(0, 60_000, 15_000, dtype=np.int64)
    path, _ = write_block(tmp_path, [(lb, ts, ts + i) for i, lb in enumerate(sorted(SERIES))])
    _check(BlockReader(path).querier(0, 60_000))
