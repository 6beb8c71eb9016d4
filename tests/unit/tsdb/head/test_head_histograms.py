"""Native histograms in the head: resolve/append API, rules, reads, chunk cutting, truncation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tidewell.model.batch import SampleBatch
from tidewell.model.histogram import CounterResetHint, Histogram
from tidewell.model.labels import Labels
from tidewell.model.matchers import Matcher, MatchType
from tidewell.model.samples import stale_nan
from tidewell.tsdb.chunkenc.histogram import (
    CounterResetHeader,
    chunk_counter_reset_header,
    decode_histogram_chunk,
    is_stale_histogram,
)
from tidewell.tsdb.head.errors import AppendResult, Reason
from tidewell.tsdb.head.head import Head
from tidewell.tsdb.head.head_read import HeadQuerier
from tidewell.tsdb.head.hist_chunks import HistogramChunkBuilder

FLOAT = Labels.from_dict({"__name__": "f"})
HIST = Labels.from_dict({"__name__": "h"})


def _h(i: int, integer: bool = True, **kw: object) -> Histogram:
    base = dict(schema=0, count=float(3 * i), sum=float(i), zero_count=float(i),
                positive_spans=((0, 2),), positive_buckets=(float(i), float(i)), integer=integer)
    base.update(kw)
    return Histogram(**base)  # type: ignore[arg-type]


def _batch(float_ts: list[int], hist: list[tuple[int, Histogram]]) -> SampleBatch:
    return SampleBatch(
        labels=[FLOAT, HIST],
        series_index=np.zeros(len(float_ts), dtype=np.int32),
        timestamps=np.array(float_ts, dtype=np.int64),
        values=np.ones(len(float_ts)),
        hist_series_index=np.ones(len(hist), dtype=np.int32),
        hist_timestamps=np.array([t for t, _ in hist], dtype=np.int64),
        histograms=[h for _, h in hist],
    )


def _select(head: Head, name: str) -> list:
    return HeadQuerier(head, 0, 10**13).select([Matcher(MatchType.EQUAL, "__name__", name)])


def test_resolve_then_append_histograms_and_read_back() -> None:
    head = Head()
    batch = _batch([1000], [(1000 * i, _h(i)) for i in range(1, 6)])
    with head.lock:
        refs, ts, vals, res = head.resolve(batch)
        hrefs, hts, hvals = head.resolve_histograms(batch, result=res)
        head.append_resolved(refs, ts, vals, result=res)
        head.append_histograms(hrefs, hts, hvals, result=res)
    assert res.series_created == 2 and res.accepted == 6
    assert head.get_ref(HIST) == 1  # created after the float-only series, in entry order
    [s] = _select(head, "h")
    assert len(s) == 0 and s.histograms is not None  # histogram-only series is returned
    assert s.histograms.timestamps.tolist() == [1000, 2000, 3000, 4000, 5000]
    # read back from the head's chunk: hints as Prometheus's iterator gives them
    assert s.histograms.values == [
        _h(i, counter_reset_hint=CounterResetHint.UNKNOWN if i == 1
           else CounterResetHint.NOT_COUNTER_RESET) for i in range(1, 6)]
    assert s.num_samples == 5
    assert head.num_samples() == 6


def test_append_rules_match_floats() -> None:
    head = Head()
    head.append(_batch([], [(1000, _h(1)), (2000, _h(2))]))
    res = head.append(_batch([], [(2000, _h(2)), (2000, _h(3)), (1500, _h(1)), (3000, _h(3))]))
    assert res.duplicates == 1 and res.accepted == 1
    assert res.rejected == {Reason.DUPLICATE_TIMESTAMP: 1, Reason.OUT_OF_ORDER: 1}
    res = head.append(_batch([], [(2500, _h(2))]), ooo_window_ms=10_000)
    assert res.accepted == 1
    [s] = _select(head, "h")
    assert s.histograms.timestamps.tolist() == [1000, 2000, 2500, 3000]
    limited = Head()
    res = limited.append(_batch([5], [(5, _h(1))]), max_series=1)
    assert res.rejected == {Reason.SERIES_LIMIT: 1} and limited.num_series == 1


def test_builder_cuts_on_reset_gauge_switch_size_and_range() -> None:
    b = HistogramChunkBuilder(7_200_000)
    closed = []
    seq = [(1, _h(5)), (2, _h(6)), (3, _h(2)),  # count falls: reset
           (4, _h(3, counter_reset_hint=CounterResetHint.GAUGE)),  # gauge switch
           (5, _h(1, counter_reset_hint=CounterResetHint.GAUGE)),  # gauges may fall
           (6, _h(4, schema=1, counter_reset_hint=CounterResetHint.GAUGE)),  # schema change
           (7, _h(5, integer=False, counter_reset_hint=CounterResetHint.GAUGE)),  # encoding
           (7_200_000, _h(6, integer=False, counter_reset_hint=CounterResetHint.GAUGE))]
    for t, h in seq:
        c = b.append(t, h)
        if c is not None:
            closed.append(c)
    closed.append(b.flush())
    assert [(c.mint, c.maxt, c.encoding) for c in closed] == [
        (1, 2, 2), (3, 3, 2), (4, 5, 2), (6, 6, 2), (7, 7, 3), (7_200_000, 7_200_000, 3)]
    headers = [chunk_counter_reset_header(c.data) for c in closed]
    assert headers == [CounterResetHeader.UNKNOWN, CounterResetHeader.COUNTER_RESET,
                       *[CounterResetHeader.GAUGE] * 4]
    # size: many wide histograms → chunks of >= 10 samples ending past 1024 bytes
    b = HistogramChunkBuilder(7_200_000)
    wide = [Histogram(schema=0, count=float(100 * i), sum=float(i) * 1.1,
                      positive_spans=((0, 60),),
                      positive_buckets=tuple(float(i * (k + 1)) * 1.37 for k in range(60)),
                      integer=False) for i in range(1, 200)]
    sizes = [c for c in (b.append(i, h) for i, h in enumerate(wide)) if c is not None]
    assert sizes and all(len(c.data) >= 1024 for c in sizes)
    assert all(decode_histogram_chunk(c.data, 3)[0].shape[0] >= 10 for c in sizes)
    assert chunk_counter_reset_header(sizes[1].data) == CounterResetHeader.NOT_COUNTER_RESET


def test_new_buckets_recode_instead_of_cut() -> None:
    b = HistogramChunkBuilder(7_200_000)
    b.append(1, _h(1))
    wider = _h(2, positive_spans=((-1, 4),), positive_buckets=(1.0, 2.0, 2.0, 1.0), count=9.0)
    assert b.append(2, wider) is None
    c = b.flush()
    _, got = decode_histogram_chunk(c.data, 2)
    assert got[0].positive_spans == ((-1, 4),)
    assert got[0].positive_buckets == (0.0, 1.0, 1.0, 0.0)  # the first sample, zero-padded
    assert got[1].positive_buckets == wider.positive_buckets


def test_stale_marker_and_truncate() -> None:
    head = Head(block_range_ms=10_000)
    stale = Histogram(sum=stale_nan(), integer=True)
    head.append(_batch([], [(1000, _h(1)), (2000, stale), (12_000, _h(2))]))
    [s] = _select(head, "h")
    assert is_stale_histogram(s.histograms.values[1])
    head.truncate(10_000)
    [s] = _select(head, "h")
    assert s.histograms.timestamps.tolist() == [12_000]
    res = head.append(_batch([], [(3000, _h(1))]))
    assert (res.late, res.rejected) == (1, {})
    [s] = _select(head, "h")
    assert s.histograms.timestamps.tolist() == [3000, 12_000]
    head.truncate(20_000)
    assert head.active_series == 0 and head.hists.series == {}


def test_result_argument_accumulates() -> None:
    head = Head()
    res = AppendResult()
    refs, ts, hs = head.resolve_histograms(_batch([], [(1, _h(1))]), result=res)
    head.append_histograms(refs, ts, hs, result=res)
    assert res.accepted == 1 and res.series_created == 1


def test_snapshot_restores_histograms_exactly(tmp_path: Path) -> None:
    from tidewell.tsdb.head.snapshot import load_head, save_head

    head = Head(block_range_ms=10_000)
    stale = Histogram(sum=stale_nan(), integer=False)
    hist = [(1000 * i, _h(i, integer=i < 15)) for i in range(1, 25)] + [(25_000, stale)]
    head.append(_batch([500, 26_000], hist))
    head.append(_batch([], [(20_500, _h(20, integer=False))]), ooo_window_ms=60_000)
    path = tmp_path / "h.npz"
    with open(path, "wb") as f:
        save_head(head, f)
    back = load_head(str(path))
    [a] = _select(head, "h")
    [b] = _select(back, "h")
    assert b.histograms.timestamps.tolist() == a.histograms.timestamps.tolist()
    assert len(b.histograms) == 26
    for x, y in zip(a.histograms.values, b.histograms.values, strict=True):
        assert is_stale_histogram(y) if is_stale_histogram(x) else x == y
    ref = head.get_ref(HIST)
    closed = [c.data for c in head.hists.get(ref).closed]
    assert [c.data for c in back.hists.get(ref).closed] == closed
    assert back.hists.get(ref).builder.open_chunk() == head.hists.get(ref).builder.open_chunk()
    # appending continues the same open chunk in both
    for h_ in (head, back):
        h_.append(_batch([], [(27_000, _h(30, integer=False))]))
    assert back.hists.get(ref).builder.open_chunk() == head.hists.get(ref).builder.open_chunk()
