"""promtool (Prometheus 2.42, Debian) reads our blocks, and we read promtool's."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import numpy as np

from tidewell.model.matchers import Matcher, MatchType
from tidewell.tsdb.block import BlockReader, read_meta, write_block
from tidewell.tsdb.chunkenc import decode_xor, encode_xor
from tidewell.tsdb.chunks import ChunkReader

ALL = [Matcher(MatchType.REGEX, "__name__", ".+")]


def test_promtool_list_analyze_dump_our_block(tmp_path: Path, h: ModuleType) -> None:
    series = h.realistic_series(60, hours=2, specials=True)
    db = tmp_path / "db"
    path, meta = write_block(db, series, thanos_labels={"__org_id__": "t1"})
    n_samples = sum(len(ts) for _, ts, _ in series)

    listing = h.run_promtool("tsdb", "list", str(db))
    row = next(line for line in listing.splitlines() if line.startswith(meta.ulid))
    cols = row.split()
    assert int(cols[1]) == meta.min_time and int(cols[2]) == meta.max_time
    assert [int(c) for c in cols[-4:-1]] == [n_samples, meta.num_chunks, 60]

    analysis = h.run_promtool("tsdb", "analyze", "--extended", str(db), meta.ulid)
    assert re.search(r"^Series: 60$", analysis, re.M)
    assert "Highest cardinality metric names" in analysis

    dumped = h.dump_samples(db)
    assert len(dumped) == n_samples
    assert dumped == h.rows_of(series)
    assert path.name == meta.ulid


def test_our_reader_matches_promtool_on_promtool_blocks(tmp_path: Path, h: ModuleType) -> None:
    series = h.realistic_series(30, hours=3, specials=True, seed=11)
    om = tmp_path / "input.om"
    om.write_text(h.to_openmetrics(series))
    db = tmp_path / "db"
    db.mkdir()
    h.run_promtool("tsdb", "create-blocks-from", "openmetrics", str(om), str(db), timeout=120)
    blocks = sorted(p for p in db.iterdir() if (p / "meta.json").exists())
    assert len(blocks) >= 2  # 3h of data spans two 2h-aligned blocks

    ours = []
    for b in blocks:
        with BlockReader(b) as reader:
            meta = read_meta(b)
            q = reader.querier(meta.min_time, meta.max_time - 1)
            for s in q.select(ALL):
                ours.append((s.labels, s.timestamps, s.values))
    assert h.rows_of(ours) == h.dump_samples(db)
    assert h.rows_of(ours) == h.rows_of(series)


def test_xor_chunks_are_byte_identical_to_prometheus(tmp_path: Path, h: ModuleType) -> None:
    """Re-encoding the samples of every chunk Prometheus wrote yields the same bytes."""
    series = h.realistic_series(20, hours=2, specials=True, seed=5)
    om = tmp_path / "input.om"
    om.write_text(h.to_openmetrics(series))
    db = tmp_path / "db"
    db.mkdir()
    h.run_promtool("tsdb", "create-blocks-from", "openmetrics", str(om), str(db), timeout=120)
    checked = 0
    for b in sorted(p for p in db.iterdir() if (p / "meta.json").exists()):
        with BlockReader(b) as reader:
            for ref in reader.index.all_postings():
                s = reader.index.series(int(ref))
                for cref in s.refs:
                    enc, data = reader.chunks.chunk(int(cref))
                    assert enc == 1
                    t, v = decode_xor(data)
                    assert encode_xor(t, v) == bytes(data), f"chunk of {s.labels} differs"
                    checked += 1
    assert checked >= 20 * 4


def test_blocks_byte_identical_to_promtool_and_bytes_per_sample(
    tmp_path: Path, h: ModuleType
) -> None:
    """Same samples in, same index and chunk files out as promtool's backfill.

    promtool's backfill runs its head with a chunk range of twice the block
    range (4h); Prometheus and Mimir heads use the block range, our default.
    """
    series = h.realistic_series(100, hours=2, seed=3)
    n = sum(len(ts) for _, ts, _ in series)
    ours, _ = write_block(tmp_path / "ours", series, chunk_range=4 * 3600 * 1000)
    om = tmp_path / "input.om"
    om.write_text(h.to_openmetrics(series))
    theirs_db = tmp_path / "theirs"
    theirs_db.mkdir()
    h.run_promtool("tsdb", "create-blocks-from", "openmetrics", str(om), str(theirs_db))
    (theirs,) = [p for p in theirs_db.iterdir() if (p / "meta.json").exists()]
    assert read_meta(theirs).num_samples == n
    assert (ours / "index").read_bytes() == (theirs / "index").read_bytes()
    ours_chunks = sorted((ours / "chunks").iterdir())
    assert [p.name for p in ours_chunks] == ["000001"]
    assert ours_chunks[0].read_bytes() == (theirs / "chunks" / "000001").read_bytes()

    def size(block: Path) -> int:
        with ChunkReader(block / "chunks") as cr:
            return (block / "index").stat().st_size + cr.total_size()

    assert size(ours) == size(theirs)
    assert 1.0 < size(ours) / n < 6.0


def test_default_chunking_matches_prometheus_head(tmp_path: Path, h: ModuleType) -> None:
    """With the 2h chunk range, 2h of 15s samples give four chunks of ~120."""
    series = h.realistic_series(5, hours=2, seed=4, jitter_ms=0)
    path, meta = write_block(tmp_path, series)
    assert meta.num_chunks == 5 * 4
    with BlockReader(path) as reader:
        s = reader.index.series(int(reader.index.all_postings()[0]))
    assert (np.diff(s.mints) == 1_800_000).all()
