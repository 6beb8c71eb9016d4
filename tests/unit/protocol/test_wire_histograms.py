"""The compiled histogram decoder equals upb + ``histogram_from_pb`` on any encoding:
fields in any order, repeated oneof members, packed and unpacked repeated fields,
unknown fields, negative timestamps and stale-marker sums."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidewell.model import STALE_NAN_BITS
from tidewell.protocol import ProtocolError, decode_write_request
from tidewell.protocol.pb import prompb_pb2 as pb
from tidewell.protocol.prompb_model import histogram_from_pb


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _zz(n: int) -> int:
    return (n << 1) ^ (n >> 63)


def _key(field: int, wire: int) -> bytes:
    return _varint((field << 3) | wire)


def _ld(field: int, payload: bytes) -> bytes:
    return _key(field, 2) + _varint(len(payload)) + payload


def _double(bits: int) -> bytes:
    return struct.pack("<Q", bits)


doubles = st.one_of(
    st.floats(allow_nan=False).map(lambda f: struct.unpack("<Q", struct.pack("<d", f))[0]),
    st.just(STALE_NAN_BITS),
)
i32 = st.integers(-(2**31), 2**31 - 1)


@st.composite
def entries(draw) -> bytes:
    """One histogram field, encoded however the wire format allows."""
    field = draw(st.integers(1, 18))
    if field in (1, 6, 14):
        return _key(field, 0) + _varint(draw(st.integers(0, 2**64 - 1) if field != 14
                                            else st.integers(0, 5)))
    if field in (2, 3, 5, 7):
        return _key(field, 1) + _double(draw(doubles))
    if field == 4:
        return _key(4, 0) + _varint(_zz(draw(st.integers(-60, 60))))
    if field == 15:
        return _key(15, 0) + _varint(draw(st.integers(-(2**62), 2**62)))
    if field in (8, 11):
        span = b""
        if draw(st.booleans()):
            span += _key(1, 0) + _varint(_zz(draw(i32)))
        if draw(st.booleans()):
            span += _key(2, 0) + _varint(draw(st.integers(0, 2**32 - 1)))
        return _ld(field, span)
    if field in (9, 12):
        vals = draw(st.lists(st.integers(-(2**40), 2**40), max_size=5))
        if draw(st.booleans()):
            return _ld(field, b"".join(_varint(_zz(v)) for v in vals))
        return b"".join(_key(field, 0) + _varint(_zz(v)) for v in vals)
    if field in (10, 13, 16):
        vals = draw(st.lists(doubles, max_size=5))
        if draw(st.booleans()):
            return _ld(field, b"".join(_double(v) for v in vals))
        return b"".join(_key(field, 1) + _double(v) for v in vals)
    return _key(field, 0) + _varint(draw(st.integers(0, 2**40)))  # unknown to us


def _request(histograms: list[bytes]) -> bytes:
    series = _ld(1, _ld(1, b"__name__") + _ld(2, b"h"))
    for h in histograms:
        series += _ld(4, h)
    return _ld(1, series)


def _bits(h) -> tuple:
    """A histogram with its floats as bits (NaN == NaN when the bits agree)."""
    def b(x: float) -> int:
        return struct.unpack("<Q", struct.pack("<d", x))[0]
    return (h.schema, b(h.zero_threshold), b(h.zero_count), b(h.count), b(h.sum),
            h.positive_spans, tuple(map(b, h.positive_buckets)), h.negative_spans,
            tuple(map(b, h.negative_buckets)), h.counter_reset_hint,
            tuple(map(b, h.custom_values)), h.integer)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(entries(), max_size=12).map(b"".join), min_size=1, max_size=4))
def test_compiled_decoder_equals_upb(histograms):
    raw = _request(histograms)
    want = [histogram_from_pb(h) for h in pb.WriteRequest.FromString(raw).timeseries[0].histograms]
    stamps = [h.timestamp for h in pb.WriteRequest.FromString(raw).timeseries[0].histograms]
    got = decode_write_request(raw)
    assert [_bits(h) for h in got.histograms] == [_bits(h) for h in want]
    assert got.hist_timestamps.tolist() == stamps
    assert got.hist_series_index.tolist() == [0] * len(want)


@pytest.mark.parametrize("payload", [
    _key(12, 2) + _varint(5) + b"\x01",  # packed deltas run past the histogram
    _key(13, 2) + _varint(3) + b"\x00\x00\x00",  # packed doubles not a multiple of 8
    _key(3, 1) + b"\x00\x00",  # a double cut short
])
def test_malformed_histogram_is_a_protocol_error(payload):
    with pytest.raises(ProtocolError):
        decode_write_request(_request([payload]))
