"""The store-gateway serves native histogram chunks (encodings 2 and 3) from blocks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tidewell.model.histogram import Histogram
from tidewell.model.labels import Labels
from tidewell.model.matchers import Matcher, MatchType
from tidewell.objstore import FilesystemBucket
from tidewell.storegateway.config import BucketStoreConfig
from tidewell.storegateway.gateway import StoreGateway
from tidewell.tsdb.block import BlockWriter
from tidewell.tsdb.chunkenc import encode_xor
from tidewell.tsdb.head.hist_store import chunk_histograms

from .sg_helpers import T0, upload_dir


def _h(i: int, integer: bool) -> Histogram:
    return Histogram(schema=1, count=float(2 * i), sum=0.5 * i, positive_spans=((0, 2),),
                     positive_buckets=(float(i), float(i)), integer=integer)


def _block(tmp: Path, name: str, ts: list[int], integer: bool, value: float) -> Path:
    w = BlockWriter(tmp / name, min_time=T0, max_time=T0 + 1_000_000)
    hs = [_h(i, integer) for i in range(len(ts))]
    # a mixed series: floats and histograms at other timestamps
    fts = np.array([T0 + 500], np.int64)  # chunks of a series never overlap
    w.add_series_chunks(Labels.from_dict({"__name__": "h"}), sorted(
        [(int(fts[0]), int(fts[0]), encode_xor(fts, np.array([value]))),
         *chunk_histograms(ts, hs, 7_200_000)], key=lambda c: c[0]))
    w.add_series_chunks(Labels.from_dict({"__name__": "only_h"}),
                        chunk_histograms(ts, hs, 7_200_000))
    w.finish()
    return w.path


def test_store_gateway_selects_histograms_across_blocks(
    fs_bucket: FilesystemBucket, tmp_path: Path
) -> None:
    ts_a = [T0 + 1000 * i for i in range(1, 40)]
    ts_b = [T0 + 1000 * i for i in range(30, 80)]  # overlaps block a: a's copy wins
    upload_dir(fs_bucket, "t1", _block(tmp_path, "a", ts_a, True, 1.0))
    upload_dir(fs_bucket, "t1", _block(tmp_path, "b", ts_b, False, 2.0))
    gw = StoreGateway(BucketStoreConfig(), fs_bucket, tmp_path / "sync")
    gw.sync()
    mint, maxt = T0, T0 + 60_000
    got = gw.querier("t1", mint, maxt).select([Matcher(MatchType.REGEX, "__name__", ".+")])
    assert [s.labels.get("__name__") for s in got] == ["h", "only_h"]
    mixed, only = got
    assert mixed.timestamps.tolist() == [T0 + 500] and mixed.values.tolist() == [1.0]
    assert len(only) == 0
    for s in got:
        hs = s.histograms
        assert hs.timestamps.tolist() == [T0 + 1000 * i for i in range(1, 61)]
        assert [h.integer for h in hs.values] == [True] * 39 + [False] * 21
        assert hs.values[0].count == 0.0 and hs.values[-1].count == 2.0 * (60 - 30)
