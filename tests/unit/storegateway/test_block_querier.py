"""Merging and time filtering in ``decode_plans`` on blocks with awkward chunk layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tidewell.model.labels import Labels
from tidewell.model.matchers import Matcher, MatchType
from tidewell.objstore import FilesystemBucket
from tidewell.storegateway.config import BucketStoreConfig
from tidewell.storegateway.gateway import StoreGateway
from tidewell.tsdb.block import BlockWriter
from tidewell.tsdb.chunkenc import encode_xor

from .sg_helpers import T0, upload_dir


def test_chunks_sharing_a_timestamp_within_a_block_are_deduplicated(
    fs_bucket: FilesystemBucket, tmp_path: Path
) -> None:
    a_ts = T0 + np.arange(0, 100, dtype=np.int64) * 1000
    # The index format lets a chunk start where the previous one ended (never earlier).
    b_ts = T0 + np.arange(99, 150, dtype=np.int64) * 1000
    w = BlockWriter(tmp_path / "local", min_time=T0, max_time=T0 + 200_000)
    lb = Labels.from_dict({"__name__": "x"})
    w.add_series_chunks(lb, [
        (int(a_ts[0]), int(a_ts[-1]), encode_xor(a_ts, np.zeros(100))),
        (int(b_ts[0]), int(b_ts[-1]), encode_xor(b_ts, np.ones(51))),
    ])
    w.add_series_chunks(Labels.from_dict({"__name__": "y"}), [
        (int(a_ts[0]), int(a_ts[-1]), encode_xor(a_ts, np.full(100, 7.0))),
    ])
    w.finish()
    upload_dir(fs_bucket, "t1", w.path)
    gw = StoreGateway(BucketStoreConfig(), fs_bucket, tmp_path / "sync")
    gw.sync()
    mint, maxt = T0 + 20_000, T0 + 120_000
    got = gw.querier("t1", mint, maxt).select([Matcher(MatchType.REGEX, "__name__", "x|y")])
    assert [s.labels.name for s in got] == ["x", "y"]
    x, y = got
    np.testing.assert_array_equal(x.timestamps, T0 + np.arange(20, 121) * 1000)
    # At the shared timestamp, the first chunk's sample is kept.
    np.testing.assert_array_equal(x.values, np.r_[np.zeros(80), np.ones(21)])
    np.testing.assert_array_equal(y.timestamps, T0 + np.arange(20, 100) * 1000)
    assert (y.values == 7.0).all()


def test_hints_stop_local_and_bucket_block_selects_before_decoding(
    fs_bucket: FilesystemBucket, tmp_path: Path
) -> None:
    """Both block readers (an ingester's local blocks, the store-gateway's bucket
    blocks) refuse from the postings (series) and chunk headers (bytes)."""
    import pytest

    from tidewell.model import SelectHints, SelectLimitError
    from tidewell.tsdb.block import BlockReader, write_block

    from .sg_helpers import HOUR, make_series

    path, _ = write_block(tmp_path / "local", make_series(300, T0, T0 + 2 * HOUR))
    upload_dir(fs_bucket, "t1", path)
    gw = StoreGateway(BucketStoreConfig(), fs_bucket, tmp_path / "sync")
    gw.sync()
    sel = [Matcher(MatchType.EQUAL, "__name__", "m")]
    with BlockReader(path) as block:
        queriers = [block.querier(T0, T0 + 2 * HOUR), gw.querier("t1", T0, T0 + 2 * HOUR)]
        for q in queriers:
            full = q.select(sel)
            samples = sum(len(s) for s in full)
            assert len(full) == 300
            assert len(q.select(sel, SelectHints(max_series=300, max_bytes=16 * samples))) == 300
            for hints, what in ((SelectHints(max_series=299), "series"),
                                (SelectHints(max_bytes=16 * samples // 2), "bytes")):
                with pytest.raises(SelectLimitError) as err:
                    q.select(sel, hints)
                assert err.value.what == what
