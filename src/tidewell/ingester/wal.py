"""The ingester's write-ahead log: consumed records, fsync'd before they touch the head.

It stores the records as consumed (offset, timestamp, version, key, value,
the value compressed), so replay is "decode and append again" and the last entry's offset
says where consumption resumes. One ``append`` call writes a whole fetched
batch and syncs once (group commit).

Segment files ``<dir>/<index:08d>``; each entry is
``u32 crc32c(payload) | u32 len(payload) | payload`` with payload
``i64 offset | i64 timestamp_ms | u16 attributes | u16 len(key) | key | value``
(little endian); ``attributes`` is the record version in its low byte and the
value's codec (``tidewell.ingest.codec``, zstd for all but tiny values) in its
high byte, so entries written before compression read as codec 0. A torn entry
at the end of the newest segment (a crash mid-write) is cut off on open; it
was never synced, so its offset was never committed and the record is consumed
again from the log. A damaged entry anywhere else (disk corruption) is handled
the same way, dropping everything after it: replay stops there and consumption
resumes from that record, as long as the log still retains it.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterator, Sequence

import google_crc32c

from tidewell.ingest.codec import CodecError, compress_value, decompress_value
from tidewell.ingest.log import Record

__all__ = ["RecordWAL"]

log = logging.getLogger("tidewell.ingester")

_ENTRY = struct.Struct("<II")
_PAYLOAD = struct.Struct("<qqHH")


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class RecordWAL:
    """Append-only segmented log of consumed records for one partition."""

    def __init__(self, directory: str, partition: int, segment_size: int = 128 << 20) -> None:
        self.directory = directory
        self.partition = partition
        self.segment_size = segment_size
        os.makedirs(directory, exist_ok=True)
        self._fd = -1
        self._size = 0
        self._index = max(self.segments(), default=0)
        self.appended_bytes = 0
        """Bytes written by this process (the ingester snapshots after enough of them)."""

    def segments(self) -> list[int]:
        return sorted(int(n) for n in os.listdir(self.directory) if n.isdigit())

    def _path(self, index: int) -> str:
        return os.path.join(self.directory, f"{index:08d}")

    # -- reading ---------------------------------------------------------------

    def replay(self) -> Iterator[Record]:
        """Yield every intact record in order; cut a torn tail off the newest segment."""
        segs = self.segments()
        for i, index in enumerate(segs):
            path = self._path(index)
            with open(path, "rb") as f:
                data = f.read()
            pos = 0
            while pos < len(data):
                rec, nxt = self._decode(data, pos)
                if rec is None:
                    later = segs[i + 1 :]
                    if later:
                        log.error(
                            "corrupt WAL entry: replay stops here, the rest is consumed "
                            "again from the log",
                            extra={"fields": {"segment": path, "offset_bytes": pos,
                                              "segments_dropped": len(later)}},
                        )
                    else:
                        log.warning(
                            "truncating torn WAL tail",
                            extra={"fields": {"segment": path, "offset_bytes": pos}},
                        )
                    with open(path, "r+b") as f:
                        f.truncate(pos)
                        os.fsync(f.fileno())
                    for index_after in later:
                        os.unlink(self._path(index_after))
                    if later:
                        _fsync_dir(self.directory)
                    self._index = index
                    return
                yield rec
                pos = nxt

    def _decode(self, data: bytes, pos: int) -> tuple[Record | None, int]:
        if pos + _ENTRY.size > len(data):
            return None, pos
        crc, length = _ENTRY.unpack_from(data, pos)
        start = pos + _ENTRY.size
        end = start + length
        if end > len(data) or length < _PAYLOAD.size:
            return None, pos
        payload = data[start:end]
        if google_crc32c.value(payload) != crc:
            return None, pos
        offset, ts, attributes, klen = _PAYLOAD.unpack_from(payload)
        key = payload[_PAYLOAD.size : _PAYLOAD.size + klen]
        try:
            value = decompress_value(attributes >> 8, payload[_PAYLOAD.size + klen :])
        except CodecError:
            return None, pos  # a damaged entry, handled like a failed CRC
        return Record(self.partition, offset, key, value, attributes & 0xFF, ts), end

    # -- writing ---------------------------------------------------------------

    def _open(self) -> None:
        if self._fd < 0:
            if self._index == 0:
                self._index = 1
            path = self._path(self._index)
            created = not os.path.exists(path)
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            self._size = os.fstat(self._fd).st_size
            if created:
                _fsync_dir(self.directory)

    def append(self, records: Sequence[Record]) -> None:
        """Write ``records`` and make them durable (one fdatasync)."""
        if not records:
            return
        self._open()
        parts = []
        for r in records:
            codec, value = compress_value(r.value)
            attributes = (r.version & 0xFF) | (codec << 8)
            payload = _PAYLOAD.pack(r.offset, r.timestamp_ms, attributes, len(r.key)) + r.key
            crc = google_crc32c.Checksum(payload)
            crc.update(value)
            parts.append(_ENTRY.pack(int.from_bytes(crc.digest(), "big"), len(payload) +
                                     len(value)))
            parts.append(payload)
            parts.append(value)
        data = b"".join(parts)
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
        os.fdatasync(self._fd)
        self._size += len(data)
        self.appended_bytes += len(data)
        if self._size >= self.segment_size:
            self.rotate()

    def rotate(self) -> int:
        """Start a new segment; return its index (older segments can then be deleted)."""
        self.close()
        self._index += 1
        self._open()
        return self._index

    def delete_before(self, index: int) -> int:
        """Delete segments older than ``index``; return how many were removed."""
        removed = 0
        for seg in self.segments():
            if seg < index:
                os.unlink(self._path(seg))
                removed += 1
        if removed:
            _fsync_dir(self.directory)
        return removed

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
