"""Merging blocks: zone copies kept once, floats and histograms, meta.json lineage."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tidewell.model import Labels
from tidewell.model.histogram import Histogram
from tidewell.tsdb.block import BlockReader, BlockWriter, read_meta
from tidewell.tsdb.block.chunking import DEFAULT_CHUNK_RANGE_MS
from tidewell.tsdb.block.merge import merge_blocks
from tidewell.tsdb.head.compact import interleave
from tidewell.tsdb.head.hist_store import chunk_histograms
from tidewell.tsdb.head.open_chunks import split_chunks

H = 2 * 3600 * 1000
R = DEFAULT_CHUNK_RANGE_MS


def _hist(i: int) -> Histogram:
    return Histogram(schema=1, zero_threshold=2.0**-128, zero_count=float(i), count=6.0 + 2 * i,
                     sum=1.5 * i, positive_spans=((0, 2),), positive_buckets=(1.0 + i, 5.0 + i),
                     integer=True)


def _write(parent: Path, series: dict[Labels, tuple[np.ndarray, list[int]]], lo: int) -> Path:
    """A block of ``[lo, lo+2h)``: float samples at the given times, histograms at others."""
    w = BlockWriter(parent, min_time=lo, max_time=lo + H)
    for labels in sorted(series):
        fts, hts = series[labels]
        floats = split_chunks(fts, fts.astype(np.float64) / 1000, R)
        hists = chunk_histograms(hts, [_hist(t // 1000) for t in hts], R) if hts else []
        w.add_series_chunks(labels, interleave(floats, hists, R))
    w.finish()
    return w.path


def _dump(path: Path) -> dict:
    out = {}
    with BlockReader(path) as r:
        for ref in r.index.all_postings().tolist():
            labels, ts, vs, hs = r.series_data(ref, -(2**62), 2**62)
            hl = [] if hs is None else list(zip(hs.timestamps.tolist(), hs.values, strict=True))
            out[labels] = (ts.tolist(), vs.tolist(), hl)
    return out


def test_zone_copies_and_partial_overlaps_keep_every_sample_once(tmp_path: Path) -> None:
    a, b, c = (Labels.from_dict({"__name__": n}) for n in "abc")
    t = np.arange(0, H, 15_000, dtype=np.int64)
    hist_t = [int(x) + 7 for x in t[:300]]
    # zone-a and zone-b hold the same data; zone-b misses series c and has more of b.
    za = _write(tmp_path / "src", {a: (t, hist_t), b: (t[:200], []), c: (t[::2], [])}, 0)
    zb = _write(tmp_path / "src", {a: (t, hist_t), b: (t[100:], [])}, 0)
    nxt = _write(tmp_path / "src", {a: (t + H, []), b: (t + H, [])}, H)
    path, meta = merge_blocks([za, zb, nxt], tmp_path / "out", min_time=0, max_time=2 * H,
                              thanos_labels={"__ingester_id__": "x"})
    got = _dump(path)
    full = np.concatenate([t, t + H])
    assert got[a][0] == full.tolist()
    assert got[a][1] == (full / 1000).tolist()
    assert [x[0] for x in got[a][2]] == hist_t
    assert [x[1] for x in got[a][2]] == [_hist(x // 1000) for x in hist_t]
    assert got[b][0] == full.tolist()
    assert got[c][0] == t[::2].tolist()
    assert meta.num_samples == 2 * len(full) + len(t[::2]) + len(hist_t)
    disk = read_meta(path)
    assert disk.compaction_level == 2
    assert sorted(disk.compaction_sources) == sorted(p.name for p in (za, zb, nxt))
    assert [p["ulid"] for p in disk.compaction_parents] == [za.name, zb.name, nxt.name]
    assert (disk.min_time, disk.max_time, disk.source) == (0, 2 * H, "compactor")


def test_non_overlapping_chunks_are_copied_byte_for_byte(tmp_path: Path) -> None:
    a = Labels.from_dict({"__name__": "a"})
    t = np.arange(0, H, 10_000, dtype=np.int64)
    b1 = _write(tmp_path / "src", {a: (t, [])}, 0)
    b2 = _write(tmp_path / "src", {a: (t + H, [])}, H)
    path, _ = merge_blocks([b1, b2], tmp_path / "out", min_time=0, max_time=2 * H)

    def raw(p: Path) -> list[bytes]:
        with BlockReader(p) as r:
            s = r.index.series(int(r.index.all_postings()[0]))
            out = []
            for ref in s.refs.tolist():
                seg, lo, hi, _ = r.chunks.locate(ref)
                out.append(bytes(r.chunks.segment_buffer(seg)[lo:hi]))
            return out

    assert raw(path) == raw(b1) + raw(b2)
