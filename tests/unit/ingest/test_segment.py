"""Segment frame format: scanning finds exactly the whole, valid prefix."""

from __future__ import annotations

import google_crc32c
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidewell.ingest.embedded.segment import (
    BODY_HEADER,
    FRAME_HEADER,
    LogCorruptionError,
    decode_frames,
    encode_frame,
    scan_frames,
)

records = st.lists(
    st.tuples(st.binary(max_size=20), st.binary(max_size=300), st.sampled_from([0, 1, 2])),
    min_size=1,
    max_size=12,
)


def _segment(recs: list[tuple[bytes, bytes, int]], base: int) -> tuple[bytes, list[int]]:
    data, ends = b"", []
    for i, (key, value, version) in enumerate(recs):
        data += encode_frame(base + i, 1000 + i, version, key, value)
        ends.append(len(data))
    return data, ends


def test_frame_layout_is_length_crc_body() -> None:
    frame = encode_frame(7, 1234, 1, b"tenant", b"payload")
    body_len, _crc = FRAME_HEADER.unpack_from(frame, 0)
    assert body_len == len(frame) - 8 == 8 + 8 + 4 + 4 + len(b"tenant") + len(b"payload")
    assert frame[8:16] == (7).to_bytes(8, "big")
    assert frame[16:24] == (1234).to_bytes(8, "big")
    assert frame[24:28] == (1).to_bytes(4, "big")
    assert frame.endswith(b"tenantpayload")


@settings(max_examples=80, deadline=None)
@given(records, st.integers(0, 10**6), st.data())
def test_scan_of_a_torn_segment_keeps_whole_frames(recs, base, data) -> None:  # type: ignore[no-untyped-def]
    seg, ends = _segment(recs, base)
    cut = data.draw(st.integers(0, len(seg)))
    positions, timestamps, valid = scan_frames(seg[:cut], base)
    whole = [e for e in ends if e <= cut]
    assert valid == (whole[-1] if whole else 0)
    assert len(positions) == len(timestamps) == len(whole)
    got = decode_frames(seg[:valid], 3, 100, "test")
    assert [(r.key, r.value, r.version) for r in got] == recs[: len(whole)]
    assert [r.offset for r in got] == list(range(base, base + len(whole)))


@settings(max_examples=80, deadline=None)
@given(records, st.data())
def test_scan_stops_at_a_flipped_byte(recs, data) -> None:  # type: ignore[no-untyped-def]
    seg, ends = _segment(recs, 0)
    pos = data.draw(st.integers(0, len(seg) - 1))
    damaged = bytearray(seg)
    damaged[pos] ^= data.draw(st.integers(1, 255))
    _positions, _ts, valid = scan_frames(bytes(damaged), 0)
    first_bad = next(i for i, e in enumerate(ends) if pos < e)
    assert valid == (ends[first_bad - 1] if first_bad else 0)
    with pytest.raises(LogCorruptionError):  # reads of durable data verify CRCs too
        decode_frames(bytes(damaged), 0, 100, "test")


def test_decode_rejects_zeros_and_offset_mismatch() -> None:
    with pytest.raises(LogCorruptionError):
        decode_frames(b"\0" * 64, 0, 10, "zeros")
    frames = encode_frame(5, 1, 1, b"k", b"v") + encode_frame(7, 1, 1, b"k", b"v")
    assert len(decode_frames(frames, 0, 10, "no-check")) == 2
    with pytest.raises(LogCorruptionError, match="expected 6"):
        decode_frames(frames, 0, 10, "gap", first_offset=5)


def _repetitive_value(n: int = 200) -> bytes:
    """A remote-write-like value: the same label bytes again and again."""
    return b"".join(b"\x0a\x10__name__\x12http_requests_total" + i.to_bytes(4, "big")
                    for i in range(n))


def test_large_values_are_stored_zstd_compressed_and_read_back() -> None:
    value = _repetitive_value()
    frame = encode_frame(0, 1, 2, b"t", value)
    assert len(frame) < len(value) // 4
    attributes = int.from_bytes(frame[24:28], "big")
    assert attributes >> 16 == 4 and attributes & 0xFFFF == 2  # codec zstd, record version 2
    (rec,) = decode_frames(frame, 0, 10, "test")
    assert (rec.value, rec.version, rec.key) == (value, 2, b"t")


def test_frames_from_before_compression_still_read() -> None:
    value = _repetitive_value()
    body = BODY_HEADER.pack(3, 9, 1, 1) + b"t" + value  # attributes = version 1, codec 0
    frame = FRAME_HEADER.pack(len(body), google_crc32c.value(body)) + body
    (rec,) = decode_frames(frame, 0, 10, "old")
    assert (rec.offset, rec.value, rec.version) == (3, value, 1)


def test_a_value_that_does_not_decompress_is_corruption() -> None:
    body = BODY_HEADER.pack(0, 9, 1 | (4 << 16), 1) + b"t" + b"not zstd at all" * 30
    frame = FRAME_HEADER.pack(len(body), google_crc32c.value(body)) + body  # CRC is fine
    with pytest.raises(LogCorruptionError, match="zstd"):
        decode_frames(frame, 0, 10, "bad")
