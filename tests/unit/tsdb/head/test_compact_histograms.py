"""Cutting a head with native histograms into a block and reading them back."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from tidewell.model.batch import SampleBatch
from tidewell.model.histogram import CUSTOM_BUCKETS_SCHEMA, Histogram
from tidewell.model.labels import Labels
from tidewell.tsdb.block import BlockReader, BlockWriter
from tidewell.tsdb.chunkenc.histogram import (
    ENCODING_FLOAT_HISTOGRAM,
    ENCODING_HISTOGRAM,
    decode_histogram_chunk,
)
from tidewell.tsdb.head import Head
from tidewell.tsdb.head.compact import block_series, cut_ranges

R = 60_000


def _hists(kind: str, i: int) -> Histogram:
    if kind == "nhcb":
        return Histogram(schema=CUSTOM_BUCKETS_SCHEMA, count=float(3 * i), sum=0.5 * i,
                         positive_spans=((0, 3),), positive_buckets=(float(i), float(i), float(i)),
                         custom_values=(0.1, 1.0), integer=True)
    return Histogram(schema=2, zero_threshold=2.0**-128, zero_count=float(i), count=float(3 * i),
                     sum=1.25 * i, positive_spans=((1, 2),), positive_buckets=(float(i), float(i)),
                     integer=kind == "int")


def _fill(head: Head) -> dict[str, list[tuple[int, Histogram]]]:
    names = ["fhist", "ihist", "nhcb", "zfloat"]
    labels = [Labels.from_dict({"__name__": n}) for n in names]
    want: dict[str, list[tuple[int, Histogram]]] = {n: [] for n in names[:3]}
    for step in range(1, 200):
        t = step * 1000
        hs = [_hists("float", step), _hists("int", step), _hists("nhcb", step)]
        for n, h in zip(names, hs, strict=False):
            want[n].append((t, h))
        res = head.append(SampleBatch(
            labels=labels, series_index=np.array([3], np.int32),
            timestamps=np.array([t], np.int64), values=np.array([float(step)]),
            hist_series_index=np.array([0, 1, 2], np.int32),
            hist_timestamps=np.full(3, t, np.int64), histograms=hs))
        assert res.rejected_total == 0, res.first_error
    return want


def test_block_cut_writes_histogram_chunks_and_reads_them(tmp_path: Path) -> None:
    head = Head(block_range_ms=R)
    want = _fill(head)
    _, ranges = cut_ranges(head, force=True)
    assert ranges[0] == (0, R)
    lo, hi = ranges[0]
    w = BlockWriter(tmp_path, min_time=lo, max_time=hi)
    encodings = set()
    for labels, chunks in block_series(head, lo, hi):
        encodings.update(c[2] for c in chunks if len(c) == 4)
        w.add_series_chunks(labels, chunks)
    meta = w.finish()
    assert encodings == {ENCODING_HISTOGRAM, ENCODING_FLOAT_HISTOGRAM}
    assert meta.num_series == 4
    assert meta.num_samples == 4 * 59  # t = 1000 .. 59000
    with BlockReader(w.path) as block:
        got = {s.labels.get("__name__"): s for s in block.querier(lo, hi - 1).select([])}
    assert len(got["zfloat"]) == 59 and got["zfloat"].histograms is None
    for name in ("fhist", "ihist", "nhcb"):
        s = got[name]
        assert len(s) == 0
        exp = [(t, h) for t, h in want[name] if t < hi]
        assert s.histograms.timestamps.tolist() == [t for t, _ in exp]
        for (_, h), g in zip(exp, s.histograms.values, strict=True):
            assert (g.count, g.sum, g.zero_count, g.positive_buckets, g.custom_values,
                    g.integer, g.schema) == (h.count, h.sum, h.zero_count, h.positive_buckets,
                                             h.custom_values, h.integer, h.schema)
    head.truncate(hi)
    assert head.hists.get(head.get_ref(Labels.from_dict({"__name__": "ihist"}))).first_ts() == R


def test_series_switching_between_floats_and_histograms_gets_non_overlapping_chunks(
    tmp_path: Path,
) -> None:
    head = Head(block_range_ms=R)
    labels = [Labels.from_dict({"__name__": "mixed"})]
    kinds = ["f"] * 5 + ["h"] * 5 + ["f"] * 3 + ["h"] * 4
    for i, kind in enumerate(kinds):
        t = 1000 * (i + 1)
        f = kind == "f"
        head.append(SampleBatch(
            labels=labels, series_index=np.array([0] if f else [], np.int32),
            timestamps=np.array([t] if f else [], np.int64),
            values=np.array([float(i)] if f else []),
            hist_series_index=np.array([] if f else [0], np.int32),
            hist_timestamps=np.array([] if f else [t], np.int64),
            histograms=[] if f else [_hists("int", i)]))
    [(_, chunks)] = list(block_series(head, 0, R))
    assert [len(c) == 4 for c in chunks] == [False, True, False, True]
    assert all(b[0] > a[1] for a, b in itertools.pairwise(chunks))
    w = BlockWriter(tmp_path, min_time=0, max_time=R)
    w.add_series_chunks(labels[0], chunks)
    w.finish()
    with BlockReader(w.path) as block:
        [s] = block.querier(0, R).select([])
    assert s.timestamps.tolist() == [1000 * (i + 1) for i, k in enumerate(kinds) if k == "f"]
    assert s.histograms.timestamps.tolist() == [
        1000 * (i + 1) for i, k in enumerate(kinds) if k == "h"]


def test_histogram_only_head_is_compactable() -> None:
    head = Head(block_range_ms=R)
    labels = [Labels.from_dict({"__name__": "h"})]
    for i in range(0, 4 * R, 10_000):
        head.append(SampleBatch(labels=labels, hist_series_index=np.array([0], np.int32),
                                hist_timestamps=np.array([i], np.int64),
                                histograms=[_hists("int", i // 10_000)]))
    ooo, inorder = cut_ranges(head)
    assert ooo == [] and inorder == [(0, R), (R, 2 * R), (2 * R, 3 * R)]
    assert [len(c) for _, c in block_series(head, 0, R)] == [1]
    head.truncate(2 * R)
    assert cut_ranges(head, force=True)[1] == [(2 * R, 3 * R), (3 * R, 4 * R)]


def test_out_of_order_histograms_reach_their_own_block_range() -> None:
    head = Head(block_range_ms=R)
    labels = [Labels.from_dict({"__name__": "h"})]

    def put(ts: list[int], **kw: int) -> None:
        res = head.append(SampleBatch(
            labels=labels, hist_series_index=np.zeros(len(ts), np.int32),
            hist_timestamps=np.array(ts, np.int64),
            histograms=[_hists("float", t // 1000) for t in ts]), **kw)
        assert res.rejected_total == 0, res.first_error

    put(list(range(1000, 3 * R, 10_000)))
    head.truncate(2 * R)  # as after cutting [0, R) and [R, 2R)
    put([2 * R - 5000, R + 5000], ooo_window_ms=2 * R)  # older than the head now allows
    ooo, _ = cut_ranges(head)
    assert ooo == [(R, 2 * R)]
    [(_, chunks)] = list(block_series(head, R, 2 * R))
    ts = [t for c in chunks for t in decode_histogram_chunk(c.data, c.encoding)[0].tolist()]
    assert ts == [R + 5000, 2 * R - 5000]
