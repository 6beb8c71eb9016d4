"""The store-gateway honours ``__query_shard__`` on block selects."""

from __future__ import annotations

from pathlib import Path

from tidewell.model.matchers import Matcher, MatchType
from tidewell.model.shard import ShardSelector
from tidewell.objstore import FilesystemBucket
from tidewell.storegateway.config import BucketStoreConfig
from tidewell.storegateway.gateway import StoreGateway

from .sg_helpers import HOUR, T0, make_series, metric, write_and_upload


def test_block_select_by_shard(fs_bucket: FilesystemBucket, tmp_path: Path) -> None:
    write_and_upload(fs_bucket, "t1", tmp_path / "b", make_series(120, T0, T0 + HOUR))
    gw = StoreGateway(BucketStoreConfig(), fs_bucket, tmp_path / "sync")
    gw.sync()
    q = gw.querier("t1", T0, T0 + HOUR)
    job = Matcher(MatchType.EQUAL, "job", "j2")

    def chunks_touched() -> float:
        return metric("cortex_bucket_store_series_data_touched_total", data_type="chunks")

    before = chunks_touched()
    whole = {s.labels: s.values.tolist() for s in q.select([job])}
    per_series = (chunks_touched() - before) / len(whole)
    assert len(whole) == 40 and per_series == 2
    union: dict = {}
    for i in range(3):
        shard = ShardSelector(i, 3)
        before = chunks_touched()
        got = q.select([shard.matcher(), job])
        assert got and all(shard.owns(s.labels) for s in got)
        # Only this shard's chunks are read.
        assert chunks_touched() - before == per_series * len(got)
        assert not set(union) & {s.labels for s in got}
        union.update({s.labels: s.values.tolist() for s in got})
    assert union == whole
