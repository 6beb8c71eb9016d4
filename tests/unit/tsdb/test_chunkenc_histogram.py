"""Histogram and float-histogram chunks: round trips, header bits, known bytes, stale markers."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidewell.model.histogram import CUSTOM_BUCKETS_SCHEMA, CounterResetHint, Histogram
from tidewell.model.samples import stale_nan
from tidewell.tsdb.chunkenc import CorruptChunkError
from tidewell.tsdb.chunkenc.bitstream import BitReader, BitWriter
from tidewell.tsdb.chunkenc.histogram import (
    ENCODING_FLOAT_HISTOGRAM,
    ENCODING_HISTOGRAM,
    CounterResetHeader,
    chunk_counter_reset_header,
    decode_histogram_chunk,
    encode_histogram_chunk,
    is_stale_histogram,
)


def _hist(i: int, integer: bool = True, **kw: object) -> Histogram:
    base = dict(
        schema=1, zero_threshold=2.0**-128, zero_count=float(i), count=10.0 + 6 * i,
        sum=1.5 * i, positive_spans=((0, 2), (3, 1)),
        positive_buckets=(1.0 + i, 2.0, 3.0 + i), negative_spans=((-2, 1),),
        negative_buckets=(4.0 + 3 * i,), integer=integer,
    )
    base.update(kw)
    return Histogram(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("integer", [True, False])
def test_round_trip_keeps_every_field(integer: bool) -> None:
    hs = [_hist(i, integer) for i in range(6)]
    ts = [1_700_000_000_000 + 15_000 * i + (i % 2) for i in range(6)]
    enc = ENCODING_HISTOGRAM if integer else ENCODING_FLOAT_HISTOGRAM
    data = encode_histogram_chunk(ts, hs, integer=integer)
    assert (data[0] << 8 | data[1]) == 6
    got_ts, got = decode_histogram_chunk(data, enc)
    assert got_ts.tolist() == ts
    for h, g in zip(hs, got, strict=True):
        assert (g.schema, g.zero_threshold, g.count, g.zero_count, g.sum) == (
            h.schema, h.zero_threshold, h.count, h.zero_count, h.sum)
        assert g.positive_spans == h.positive_spans and g.positive_buckets == h.positive_buckets
        assert g.negative_spans == h.negative_spans and g.negative_buckets == h.negative_buckets
        assert g.integer is integer
    # Prometheus's iterator: first sample "unknown", later ones "not a reset".
    assert got[0].counter_reset_hint == CounterResetHint.UNKNOWN
    assert {g.counter_reset_hint for g in got[1:]} == {CounterResetHint.NOT_COUNTER_RESET}


def test_first_sample_bytes_match_prometheus_layout() -> None:
    """Hand-derived from histogram_meta.go / varbit.go: zero threshold 2^-128 is byte 116."""
    h = Histogram(schema=0, zero_threshold=2.0**-128, count=0, sum=0.0, integer=True)
    data = encode_histogram_chunk([0], [h], integer=True)
    # count=1, header 0, then: 116 (8 bits), schema 0 (1 bit), 0 pos spans (1), 0 neg spans (1),
    # t=0 (1), count 0 (1), zero count 0 (1), sum 64 zero bits.
    assert data[:4] == bytes([0, 1, 0, 116])
    assert len(data) == 3 + (8 + 6 + 64 + 7) // 8
    assert data[4:] == bytes(len(data) - 4)


def test_header_bits_and_gauge_hints() -> None:
    hs = [_hist(i, counter_reset_hint=CounterResetHint.GAUGE) for i in range(3)]
    for header in CounterResetHeader:
        data = encode_histogram_chunk([1, 2, 3], hs, integer=True, header=header)
        assert data[2] == header << 6
        assert chunk_counter_reset_header(data) == header
    data = encode_histogram_chunk([1, 2, 3], hs, integer=True, header=CounterResetHeader.GAUGE)
    _, got = decode_histogram_chunk(data, ENCODING_HISTOGRAM)
    assert {g.counter_reset_hint for g in got} == {CounterResetHint.GAUGE}


def test_custom_buckets_and_odd_zero_threshold() -> None:
    bounds = (0.005, 0.1, 1.0, 2.5, 33554.43, 1e9, -3.0, 0.1234567)
    h = Histogram(schema=CUSTOM_BUCKETS_SCHEMA, count=7, sum=3.25,
                  positive_spans=((0, 3), (2, 2)), positive_buckets=(1, 2, 0, 3, 1),
                  custom_values=bounds, integer=True)
    h2 = Histogram(schema=2, zero_threshold=0.001, zero_count=2, count=2, sum=0.0,
                   integer=False)
    _, got = decode_histogram_chunk(encode_histogram_chunk([5], [h], integer=True), 2)
    assert got[0].custom_values == bounds and got[0].positive_buckets == h.positive_buckets
    _, got = decode_histogram_chunk(encode_histogram_chunk([5], [h2], integer=False), 3)
    assert got[0].zero_threshold == 0.001 and got[0].zero_count == 2


@pytest.mark.parametrize("integer", [True, False])
def test_stale_marker_in_the_middle(integer: bool) -> None:
    hs = [_hist(0, integer), _hist(1, integer), Histogram(sum=stale_nan(), integer=integer),
          Histogram(sum=stale_nan(), integer=integer)]
    data = encode_histogram_chunk([10, 20, 30, 40], hs, integer=integer)
    ts, got = decode_histogram_chunk(data, ENCODING_HISTOGRAM if integer else 3)
    assert ts.tolist() == [10, 20, 30, 40]
    assert [is_stale_histogram(g) for g in got] == [False, False, True, True]
    assert got[1].positive_buckets == hs[1].positive_buckets


def test_truncated_chunk_is_corrupt() -> None:
    data = encode_histogram_chunk([1, 2], [_hist(0), _hist(1)], integer=True)
    with pytest.raises(CorruptChunkError):
        decode_histogram_chunk(data[:-3], ENCODING_HISTOGRAM)


@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=50))
def test_varbit_int_round_trip(vals: list[int]) -> None:
    w = BitWriter()
    for v in vals:
        w.varbit_int(v)
    r = BitReader(w.bytes())
    assert [r.varbit_int() for _ in vals] == vals


@given(st.lists(st.floats(allow_nan=False), max_size=50))
def test_xor_float_round_trip(vals: list[float]) -> None:
    w = BitWriter()
    ws = [0, 0xFF, 0]
    for v in vals:
        w.xor_float(v, ws)
    r = BitReader(w.bytes())
    rs = [0, 0, 0]
    assert [r.xor_float(rs) for _ in vals] == vals


_spans = st.lists(st.tuples(st.integers(0, 3), st.integers(1, 3)), max_size=3)


@st.composite
def _series(draw: st.DrawFn) -> tuple[list[int], list[Histogram], bool]:
    integer = draw(st.booleans())
    schema = draw(st.integers(-4, 8))
    pspans = tuple(draw(_spans))
    nspans = tuple(draw(_spans))
    if pspans:
        pspans = ((draw(st.integers(-5, 5)), pspans[0][1]), *pspans[1:])
    n = draw(st.integers(1, 20))
    npb, nnb = sum(s[1] for s in pspans), sum(s[1] for s in nspans)
    count = st.integers(0, 10**6) if integer else st.floats(0, 1e9)
    hs = []
    for _ in range(n):
        pb = tuple(float(x) for x in draw(st.lists(count, min_size=npb, max_size=npb)))
        nb = tuple(float(x) for x in draw(st.lists(count, min_size=nnb, max_size=nnb)))
        hs.append(Histogram(
            schema=schema, zero_threshold=draw(st.sampled_from([0.0, 2.0**-128])),
            zero_count=float(draw(count)), count=float(draw(count)),
            sum=draw(st.floats(allow_nan=False)), positive_spans=pspans, positive_buckets=pb,
            negative_spans=nspans, negative_buckets=nb, integer=integer))
    # one chunk shares the first sample's zero threshold
    hs = [Histogram(**{**{f: getattr(h, f) for f in Histogram.__slots__},
                       "zero_threshold": hs[0].zero_threshold}) for h in hs]
    steps = draw(st.lists(st.integers(1, 10**7), min_size=n, max_size=n))
    ts, t = [], draw(st.integers(-(10**12), 10**13))
    for s in steps:
        t += s
        ts.append(t)
    return ts, hs, integer


@settings(max_examples=150, deadline=None)
@given(_series())
def test_round_trip_property(case: tuple[list[int], list[Histogram], bool]) -> None:
    ts, hs, integer = case
    data = encode_histogram_chunk(ts, hs, integer=integer)
    got_ts, got = decode_histogram_chunk(data, 2 if integer else 3)
    assert got_ts.tolist() == ts
    for h, g in zip(hs, got, strict=True):
        assert g.count == h.count and g.zero_count == h.zero_count
        assert math.isclose(g.sum, h.sum) or g.sum == h.sum
        assert g.positive_buckets == h.positive_buckets
        assert g.negative_buckets == h.negative_buckets
        assert g.positive_spans == h.positive_spans and g.schema == h.schema


@settings(max_examples=100, deadline=None)
@given(_series(), st.integers(0, 3))
def test_compiled_decoder_equals_python_reference(
    case: tuple[list[int], list[Histogram], bool], stale_at: int
) -> None:
    from tidewell.tsdb.chunkenc import histogram as hmod

    ts, hs, integer = case
    if stale_at < len(hs) and len(hs) > 1:
        hs = [*hs[:stale_at or 1], Histogram(sum=stale_nan(), integer=integer)]
        ts = ts[: len(hs)]
    data = encode_histogram_chunk(ts, hs, integer=integer)
    enc = 2 if integer else 3
    assert hmod.backend() == "numba"
    fast_ts, fast = decode_histogram_chunk(data, enc)
    orig = hmod.backend
    hmod.backend = lambda: "python"  # type: ignore[assignment]
    try:
        ref_ts, ref = decode_histogram_chunk(data, enc)
        with pytest.raises(CorruptChunkError):
            decode_histogram_chunk(data[: max(3, len(data) - 9)] if len(data) > 12 else b"\0\5\0",
                                   enc)
    finally:
        hmod.backend = orig
    assert fast_ts.tolist() == ref_ts.tolist()
    for a, b in zip(fast, ref, strict=True):
        if is_stale_histogram(b):
            assert is_stale_histogram(a) and a.integer == b.integer
        else:
            assert a == b or (a.sum != a.sum and b.sum != b.sum)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=200), st.sampled_from([2, 3]))
def test_garbage_raises_corrupt_or_decodes(data: bytes, enc: int) -> None:
    try:
        ts, hs = decode_histogram_chunk(data, enc)
    except CorruptChunkError:
        return
    assert ts.shape[0] == len(hs) == ((data[0] << 8) | data[1])
