"""Native histograms over the internal read protocol (``SeriesSet`` fields 10-13)."""

from __future__ import annotations

import numpy as np
import pytest

from tidewell.model import Labels, Series, stale_nan
from tidewell.model.histogram import CUSTOM_BUCKETS_SCHEMA, Histogram, HistogramSamples
from tidewell.protocol.pb import internal_pb2 as pb
from tidewell.querier.wire import (
    RAW,
    XOR_CHUNKS,
    CorruptResponseError,
    decode_series,
    encode_select_response,
    encode_series,
)


def _hs(n: int, integer: bool, reset_at: int = -1) -> HistogramSamples:
    vals = []
    for i in range(n):
        k = i if reset_at < 0 or i < reset_at else i - reset_at
        vals.append(Histogram(schema=3, zero_threshold=1e-3, zero_count=float(k),
                              count=float(3 * k), sum=0.5 * k, positive_spans=((2, 2),),
                              positive_buckets=(float(k), float(k)), integer=integer))
    vals[-1] = Histogram(sum=stale_nan(), integer=integer)
    return HistogramSamples(np.arange(n, dtype=np.int64) * 15_000, vals)


def _series() -> list[Series]:
    nhcb = HistogramSamples(np.array([5, 6], np.int64), [
        Histogram(schema=CUSTOM_BUCKETS_SCHEMA, count=2.0, sum=1.0, positive_spans=((0, 2),),
                  positive_buckets=(1.0, 1.0), custom_values=(0.5,), integer=True)] * 2)
    return [
        Series(Labels.from_dict({"__name__": "floats"}), np.array([1, 2], np.int64),
               np.array([1.0, 2.0])),
        Series(Labels.from_dict({"__name__": "ints"}), np.empty(0, np.int64), np.empty(0),
               histograms=_hs(300, True, reset_at=100)),
        Series(Labels.from_dict({"__name__": "mixed"}), np.array([1], np.int64),
               np.array([7.0]), histograms=_hs(20, False)),
        Series(Labels.from_dict({"__name__": "nhcb"}), np.empty(0, np.int64), np.empty(0),
               histograms=nhcb),
    ]


@pytest.mark.parametrize("encoding", [RAW, XOR_CHUNKS])
def test_histograms_round_trip(encoding: int) -> None:
    sent = _series()
    msg = pb.SelectResponse.FromString(encode_select_response(sent, encoding)).series
    assert msg.SerializeToString() == encode_series(sent, encoding).SerializeToString()
    got = decode_series(msg)
    assert [s.labels for s in got] == [s.labels for s in sent]
    assert got[0].histograms is None
    for s, g in zip(sent[1:], got[1:], strict=True):
        assert g.timestamps.tolist() == s.timestamps.tolist()
        assert g.histograms.timestamps.tolist() == s.histograms.timestamps.tolist()
        for a, b in zip(s.histograms.values, g.histograms.values, strict=True):
            if a.sum != a.sum:
                assert b.sum != b.sum and b.integer == a.integer
                continue
            assert (b.count, b.sum, b.zero_count, b.positive_spans, b.positive_buckets,
                    b.custom_values, b.schema, b.integer, b.zero_threshold) == (
                a.count, a.sum, a.zero_count, a.positive_spans, a.positive_buckets,
                a.custom_values, a.schema, a.integer, a.zero_threshold)


def test_float_only_answers_carry_no_histogram_fields_and_bad_columns_are_refused() -> None:
    msg = encode_series(_series()[:1])
    assert not msg.hist_counts and not msg.hist_chunks
    assert decode_series(msg)[0].histograms is None
    bad = encode_series(_series())
    bad.hist_chunks = bad.hist_chunks[:-5]
    with pytest.raises(CorruptResponseError):
        decode_series(bad)
    bad = encode_series(_series())
    bad.hist_counts = bad.hist_counts[:4]
    with pytest.raises(CorruptResponseError):
        decode_series(bad)
