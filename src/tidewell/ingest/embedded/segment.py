"""Segment files of the embedded log: frame format, recovery scan, sidecar index.

A partition is a directory of segment files named by their first offset
(``00000000000000000042.log``). A segment is a sequence of frames::

    u32 body_len | u32 crc32c(body) | body
    body = i64 offset | i64 timestamp_ms | i32 attributes | u32 key_len | key | value

all big-endian. ``attributes`` holds the record version in its low 16 bits and
the value's codec (``tidewell.ingest.codec``: 0 none, 4 zstd) in bits 16-23;
frames written before values were compressed read as codec 0. Offsets inside a
partition are contiguous, timestamps non-decreasing. When a segment is sealed
(a newer one started) an index ``<base>.index`` is written beside it so that
opening the log does not have to read sealed data; the active segment is
always scanned, and the scan stops at the first frame that is short, fails its
CRC or breaks the offset sequence: that is a torn tail, and the file is
truncated there.
"""

from __future__ import annotations

import os
import struct
import sys
from array import array
from dataclasses import dataclass, field

import google_crc32c

from tidewell.ingest.codec import CodecError, compress_value, decompress_value
from tidewell.ingest.log import LogError, Record

__all__ = [
    "FRAME_HEADER",
    "LogCorruptionError",
    "Segment",
    "decode_frames",
    "encode_frame",
    "index_path",
    "scan_frames",
    "segment_path",
]

FRAME_HEADER = struct.Struct(">II")  # body_len, crc32c(body)
BODY_HEADER = struct.Struct(">qqiI")  # offset, timestamp_ms, attributes, key_len
_VERSION_MASK = 0xFFFF
_CODEC_SHIFT = 16
FRAME_OVERHEAD = FRAME_HEADER.size + BODY_HEADER.size
MAX_FRAME_BODY = 1 << 30

_INDEX_MAGIC = b"TWIX0001"
_INDEX_HEADER = struct.Struct(">8sqQQ")  # magic, base_offset, count, log_size

_crc = google_crc32c.value


class LogCorruptionError(LogError):
    """A segment holds bytes that are not valid frames where valid ones must be."""


def segment_path(directory: str, base_offset: int) -> str:
    return os.path.join(directory, f"{base_offset:020d}.log")


def index_path(directory: str, base_offset: int) -> str:
    return os.path.join(directory, f"{base_offset:020d}.index")


def encode_frame(offset: int, timestamp_ms: int, version: int, key: bytes, value: bytes) -> bytes:
    """One frame; the value is compressed when that pays (``codec.compress_value``)."""
    codec, stored = compress_value(value)
    attributes = (version & _VERSION_MASK) | (codec << _CODEC_SHIFT)
    body = BODY_HEADER.pack(offset, timestamp_ms, attributes, len(key)) + key + stored
    return FRAME_HEADER.pack(len(body), _crc(body)) + body


def scan_frames(
    data: bytes, base_offset: int
) -> tuple[array, array, int]:
    """Validate frames from the start of ``data``.

    Returns ``(positions, timestamps, valid_size)``: the byte position and
    timestamp of each valid frame and where the valid prefix ends.
    """
    positions, timestamps = array("q"), array("q")
    buf = bytes(data)
    pos, n, expected = 0, len(buf), base_offset
    last_ts = -(1 << 63)
    while pos + FRAME_OVERHEAD <= n:
        body_len, crc = FRAME_HEADER.unpack_from(buf, pos)
        end = pos + FRAME_HEADER.size + body_len
        if body_len < BODY_HEADER.size or body_len > MAX_FRAME_BODY or end > n:
            break
        body = buf[pos + FRAME_HEADER.size : end]
        if _crc(body) != crc:
            break
        offset, ts, _version, key_len = BODY_HEADER.unpack_from(body, 0)
        if offset != expected or key_len > body_len - BODY_HEADER.size or ts < last_ts:
            break
        positions.append(pos)
        timestamps.append(ts)
        last_ts = ts
        expected += 1
        pos = end
    return positions, timestamps, pos


def decode_frames(
    data: bytes, partition: int, limit: int, where: str, first_offset: int | None = None
) -> list[Record]:
    """Decode up to ``limit`` frames known to be durable; corruption raises.

    With ``first_offset`` the frames must also carry consecutive offsets from it
    (catches an index that does not match its segment).
    """
    out: list[Record] = []
    buf = bytes(data)
    pos, n = 0, len(buf)
    while pos < n and len(out) < limit:
        if pos + FRAME_OVERHEAD > n:
            raise LogCorruptionError(f"{where}: short frame at +{pos}")
        body_len, crc = FRAME_HEADER.unpack_from(buf, pos)
        start = pos + FRAME_HEADER.size
        end = start + body_len
        body = buf[start:end]
        if end > n or body_len < BODY_HEADER.size or _crc(body) != crc:
            raise LogCorruptionError(f"{where}: frame at +{pos} fails its CRC check")
        offset, ts, attributes, key_len = BODY_HEADER.unpack_from(body, 0)
        if first_offset is not None and offset != first_offset + len(out):
            raise LogCorruptionError(
                f"{where}: frame at +{pos} has offset {offset}, "
                f"expected {first_offset + len(out)}"
            )
        k0 = BODY_HEADER.size
        try:
            value = decompress_value(attributes >> _CODEC_SHIFT, body[k0 + key_len :])
        except CodecError as exc:
            raise LogCorruptionError(f"{where}: frame at +{pos}: {exc}") from None
        out.append(
            Record(
                partition=partition,
                offset=offset,
                key=body[k0 : k0 + key_len],
                value=value,
                version=attributes & _VERSION_MASK,
                timestamp_ms=ts,
            )
        )
        pos = end
    return out


@dataclass(eq=False)
class Segment:
    """One segment file and its in-memory index (position and timestamp per record)."""

    directory: str
    base_offset: int
    fd: int
    size: int  # durable bytes (readers never look past this)
    positions: array = field(default_factory=lambda: array("q"))
    timestamps: array = field(default_factory=lambda: array("q"))

    @property
    def path(self) -> str:
        return segment_path(self.directory, self.base_offset)

    @property
    def count(self) -> int:
        return len(self.positions)

    @property
    def next_offset(self) -> int:
        return self.base_offset + len(self.positions)

    @property
    def max_timestamp(self) -> int:
        return self.timestamps[-1] if self.timestamps else -1

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    # -- sidecar index -------------------------------------------------------

    def write_index(self) -> None:
        """Persist the index of a sealed segment (called once, after its last fsync)."""
        payload = (
            _INDEX_HEADER.pack(_INDEX_MAGIC, self.base_offset, self.count, self.size)
            + _to_be(self.positions)
            + _to_be(self.timestamps)
        )
        payload += struct.pack(">I", _crc(payload))
        final = index_path(self.directory, self.base_offset)
        tmp = final + ".tmp"
        with open(tmp, "wb") as f:
            f.write(payload)
            f.flush()
            os.fdatasync(f.fileno())
        os.replace(tmp, final)

    def load_index(self) -> bool:
        """Load the sidecar index if it exists and matches the file; False otherwise."""
        try:
            with open(index_path(self.directory, self.base_offset), "rb") as f:
                payload = f.read()
        except FileNotFoundError:
            return False
        if len(payload) < _INDEX_HEADER.size + 4:
            return False
        body, (crc,) = payload[:-4], struct.unpack(">I", payload[-4:])
        if _crc(body) != crc:
            return False
        magic, base, count, log_size = _INDEX_HEADER.unpack_from(body, 0)
        if magic != _INDEX_MAGIC or base != self.base_offset or log_size != self.size:
            return False
        arr = body[_INDEX_HEADER.size :]
        if len(arr) != 16 * count:
            return False
        positions, timestamps = array("q"), array("q")
        positions.frombytes(arr[: 8 * count])
        timestamps.frombytes(arr[8 * count :])
        if sys.byteorder == "little":
            positions.byteswap()
            timestamps.byteswap()
        self.positions, self.timestamps = positions, timestamps
        return True


def _to_be(a: array) -> bytes:
    if sys.byteorder == "little":
        a = array("q", a)
        a.byteswap()
    return a.tobytes()
