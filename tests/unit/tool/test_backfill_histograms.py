"""``tidewell tool backfill`` validates and uploads blocks holding histogram chunks."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from tidewell.model.histogram import Histogram
from tidewell.model.labels import Labels
from tidewell.objstore import FilesystemBucket
from tidewell.tool.backfill import BackfillError, main, validate_block
from tidewell.tsdb.block import BlockWriter
from tidewell.tsdb.chunkenc import encode_xor
from tidewell.tsdb.head.hist_store import chunk_histograms

pytestmark = pytest.mark.timeout(60)

T0 = 1_700_006_400_000
HOUR = 3_600_000


def hist_block(parent: Path, corrupt: bool = False) -> Path:
    ts = [T0 + 15_000 * i for i in range(200)]
    hs = [Histogram(schema=0, count=float(2 * i), sum=float(i), positive_spans=((0, 2),),
                    positive_buckets=(float(i), float(i)), integer=i % 2 == 0 or i > 100)
          for i in range(200)]
    w = BlockWriter(parent, min_time=T0, max_time=T0 + 2 * HOUR)
    chunks = chunk_histograms(ts, hs, 2 * HOUR)
    if corrupt:  # valid CRC, but the bit stream ends before the sample count
        c = chunks[0]
        chunks[0] = c._replace(data=c.data[:-4])
    w.add_series_chunks(Labels.from_dict({"__name__": "h"}), chunks)
    fts = np.array(ts[:10], np.int64)
    w.add_series_chunks(Labels.from_dict({"__name__": "x"}),
                        [(int(fts[0]), int(fts[-1]), encode_xor(fts, np.ones(10)))])
    w.finish()
    return w.path


def test_histogram_blocks_are_counted_and_uploaded(tmp_path: Path) -> None:
    path = hist_block(tmp_path / "in")
    check = validate_block(path)
    assert check.meta.num_samples == 210
    out = io.StringIO()
    code = main(["--tenant", "t1", f"-blocks-storage.filesystem.dir={tmp_path / 'bucket'}",
                 "--no-progress", str(path)], out=out)
    assert code == 0, out.getvalue()
    bucket = FilesystemBucket(tmp_path / "bucket")
    assert bucket.get(f"t1/{path.name}/chunks/000001") == (path / "chunks/000001").read_bytes()


def test_undecodable_histogram_chunk_is_refused(tmp_path: Path) -> None:
    path = hist_block(tmp_path / "in", corrupt=True)
    with pytest.raises(BackfillError, match="histogram chunk does not decode"):
        validate_block(path)
