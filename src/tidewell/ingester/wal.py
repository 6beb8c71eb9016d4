"""The ingester's write-ahead log: consumed records, fsync'd before they touch the head.

Each consumed record is logged *resolved*: the record's offset, timestamp and
tenant, the label sets of series it created (with the first new ref: refs are
dense, so they are recreated in order), and its samples as ``(ref, t, v)``
arrays. Replay recreates the series and applies the arrays through the same
append rules, without decoding remote-write bytes or hashing labels again
(Prometheus's WAL design; replay was 26x slower than Prometheus's when the raw
records were stored). Entries from before this format hold the raw record and
are still replayed by decoding it.

The last entry's offset says where consumption resumes. One ``append`` call
writes a whole fetched batch and syncs once (group commit).

Segment files ``<dir>/<index:08d>``; each entry is
``u32 crc32c(payload) | u32 len(payload) | payload`` with payload
``i64 offset | i64 timestamp_ms | u16 attributes | u16 len(key) | key | value``
(little endian), key = the tenant; ``attributes`` = 0x8000 for a resolved
entry (else the raw record's version in the low byte) | the value's codec
(``tidewell.ingest.codec``, 5 bits, zstd for all but tiny values) << 8. A resolved
value is ``i64 ooo window ms | i32 first new ref | i32 new series | u32 samples
| u32 len(labels) | labels (JSON, flat name/value lists) | i32 refs | i64
timestamps | f64 values``. An entry with native histograms, exemplars or
metadata also has ``attributes`` bit 0x4000 and, after the floats, ``u32
histograms | u32 len(H) | u32 len(X) | i32 histogram refs | H | X``: H is a
remote-write ``TimeSeries`` holding the histograms in order (timestamps
inside, sums bit-exact so stale markers survive), X a ``WriteRequest`` with
one series (its labels) per exemplar-carrying series and the metadata.
Entries without them are written as before, and older entries replay
unchanged. A *state* entry (bit 0x2000) holds a tenant's whole exemplar and
metadata stores, written when a head snapshot replaces the WAL before it (head
snapshots hold samples only); its offset is the snapshot's last record. A torn entry
at the end of the newest segment (a crash mid-write) is cut off on open; it
was never synced, so its offset was never committed and the record is consumed
again from the log. A damaged entry anywhere else (disk corruption) is handled
the same way, dropping everything after it: replay stops there and consumption
resumes from that record, as long as the log still retains it.
"""

from __future__ import annotations

import json
import logging
import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import google_crc32c
import numpy as np
import numpy.typing as npt

from tidewell.ingest.codec import CodecError, compress_value, decompress_value
from tidewell.ingest.log import Record
from tidewell.model import Exemplar, Histogram, MetricMetadata
from tidewell.model.labels import Labels
from tidewell.protocol.pb import prompb_pb2 as pb
from tidewell.protocol.prompb_model import (
    exemplar_from_pb,
    exemplar_to_pb,
    histogram_from_pb,
    histogram_to_pb,
    metadata_from_pb,
    metadata_to_pb,
)

__all__ = ["RecordWAL", "ResolvedEntry"]

log = logging.getLogger("tidewell.ingester")

_ENTRY = struct.Struct("<II")
_PAYLOAD = struct.Struct("<qqHH")
_RESOLVED = 0x8000
"""``attributes`` flag of a resolved entry (raw-record entries have it clear)."""
_EXTRAS = 0x4000
"""``attributes`` flag of a resolved entry carrying histograms, exemplars or metadata."""
_STATE = 0x2000
"""``attributes`` flag of a state entry (see the module docstring)."""
_CODEC_MASK = 0x1F
_RESOLVED_HEADER = struct.Struct("<qiiII")
"""ooo window ms, first new ref, new series, samples, len(labels JSON)."""
_EXTRAS_HEADER = struct.Struct("<III")
"""histograms, len(histograms message), len(exemplars and metadata message)."""


@dataclass(slots=True)
class ResolvedEntry:
    """One consumed record as the head took it (see the module docstring)."""

    offset: int
    timestamp_ms: int
    tenant: str
    ooo_window_ms: int = 0
    first_ref: int = 0
    new_labels: Sequence[Labels] = ()
    refs: npt.NDArray[np.int32] = field(default_factory=lambda: np.empty(0, dtype=np.int32))
    timestamps: npt.NDArray[np.int64] = field(
        default_factory=lambda: np.empty(0, dtype=np.int64))
    values: npt.NDArray[np.float64] = field(
        default_factory=lambda: np.empty(0, dtype=np.float64))
    hist_refs: npt.NDArray[np.int32] = field(default_factory=lambda: np.empty(0, dtype=np.int32))
    hist_timestamps: npt.NDArray[np.int64] = field(
        default_factory=lambda: np.empty(0, dtype=np.int64))
    histograms: list[Histogram] = field(default_factory=list)
    exemplars: list[tuple[Labels, list[Exemplar]]] = field(default_factory=list)
    """Per series (by labels: a series may have exemplars and no sample), its exemplars."""
    metadata: list[MetricMetadata] = field(default_factory=list)
    state: bool = False
    """Exemplar and metadata stores as of a snapshot: applied even before its offset."""

    @property
    def has_extras(self) -> bool:
        return bool(self.histograms or self.exemplars or self.metadata)

    def encode_value(self) -> bytes:
        labels = b""
        if self.new_labels:
            flat = [[x for pair in ls for x in pair] for ls in self.new_labels]
            labels = json.dumps(flat, separators=(",", ":"), ensure_ascii=False).encode()
        n = int(self.refs.shape[0])
        parts = [
            _RESOLVED_HEADER.pack(self.ooo_window_ms, self.first_ref, len(self.new_labels), n,
                                  len(labels)),
            labels,
            np.ascontiguousarray(self.refs, dtype="<i4").tobytes(),
            np.ascontiguousarray(self.timestamps, dtype="<i8").tobytes(),
            np.ascontiguousarray(self.values, dtype="<f8").tobytes(),
        ]
        if self.has_extras:
            parts.extend(self._encode_extras())
        return b"".join(parts)

    def _encode_extras(self) -> list[bytes]:
        hs = pb.TimeSeries()
        for t, h in zip(self.hist_timestamps.tolist(), self.histograms, strict=True):
            histogram_to_pb(h, t, hs.histograms.add())
        xs = pb.WriteRequest()
        for labels, exemplars in self.exemplars:
            ts = xs.timeseries.add()
            for name, value in labels:
                lab = ts.labels.add()
                lab.name, lab.value = name, value
            for e in exemplars:
                exemplar_to_pb(e, ts.exemplars.add())
        for md in self.metadata:
            metadata_to_pb(md, xs.metadata.add())
        h_raw, x_raw = hs.SerializeToString(), xs.SerializeToString()
        return [
            _EXTRAS_HEADER.pack(len(self.histograms), len(h_raw), len(x_raw)),
            np.ascontiguousarray(self.hist_refs, dtype="<i4").tobytes(), h_raw, x_raw,
        ]

    @classmethod
    def decode(cls, offset: int, ts: int, tenant: str, value: bytes,
               extras: bool = False, state: bool = False) -> ResolvedEntry:
        """Raises ``ValueError`` when ``value`` is not a well-formed entry."""
        ooo, first_ref, n_new, n, lab_len = _RESOLVED_HEADER.unpack_from(value)
        pos = _RESOLVED_HEADER.size
        end = pos + lab_len + 20 * n
        if len(value) != end and not (extras and len(value) > end):
            raise ValueError("resolved WAL entry has the wrong size")
        new_labels: list[Labels] = []
        if n_new:
            flat = json.loads(value[pos : pos + lab_len])
            new_labels = [Labels.from_sorted(tuple(zip(f[::2], f[1::2], strict=True)))
                          for f in flat]
            if len(new_labels) != n_new:
                raise ValueError("resolved WAL entry has the wrong number of series")
        pos += lab_len
        refs = np.frombuffer(value, dtype="<i4", count=n, offset=pos)
        times = np.frombuffer(value, dtype="<i8", count=n, offset=pos + 4 * n)
        vals = np.frombuffer(value, dtype="<f8", count=n, offset=pos + 12 * n)
        entry = cls(offset, ts, tenant, ooo, first_ref, new_labels, refs.astype(np.int32),
                    times.astype(np.int64), vals.astype(np.float64))
        if extras:
            entry._decode_extras(value, end)
        entry.state = state
        return entry

    def _decode_extras(self, value: bytes, pos: int) -> None:
        n_hist, h_len, x_len = _EXTRAS_HEADER.unpack_from(value, pos)
        pos += _EXTRAS_HEADER.size
        if len(value) != pos + 4 * n_hist + h_len + x_len:
            raise ValueError("resolved WAL entry has the wrong size")
        self.hist_refs = np.frombuffer(value, dtype="<i4", count=n_hist,
                                       offset=pos).astype(np.int32)
        pos += 4 * n_hist
        try:
            hs = pb.TimeSeries.FromString(value[pos : pos + h_len])
            xs = pb.WriteRequest.FromString(value[pos + h_len : pos + h_len + x_len])
        except Exception as e:  # google.protobuf.message.DecodeError
            raise ValueError(f"resolved WAL entry: {e}") from None
        if len(hs.histograms) != n_hist:
            raise ValueError("resolved WAL entry has the wrong number of histograms")
        self.hist_timestamps = np.asarray([h.timestamp for h in hs.histograms], dtype=np.int64)
        self.histograms = [histogram_from_pb(h) for h in hs.histograms]
        self.exemplars = [
            (Labels.from_sorted(tuple((lab.name, lab.value) for lab in x.labels)),
             [exemplar_from_pb(e) for e in x.exemplars])
            for x in xs.timeseries
        ]
        self.metadata = [metadata_from_pb(md) for md in xs.metadata]


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

    def replay(self) -> Iterator[Record | ResolvedEntry]:
        """Yield every intact entry in order; cut a torn tail off the newest segment.

        Entries written before entries were resolved come back as ``Record``.
        """
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

    def _decode(self, data: bytes, pos: int) -> tuple[Record | ResolvedEntry | None, int]:
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
            value = decompress_value((attributes >> 8) & _CODEC_MASK,
                                     payload[_PAYLOAD.size + klen :])
            if attributes & _RESOLVED:
                return ResolvedEntry.decode(offset, ts, key.decode(), value,
                                            bool(attributes & _EXTRAS),
                                            bool(attributes & _STATE)), end
        except (CodecError, ValueError, struct.error):
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

    def append(self, entries: Sequence[ResolvedEntry]) -> None:
        """Write ``entries`` and make them durable (one fdatasync)."""
        if not entries:
            return
        self._open()
        parts = []
        for e in entries:
            codec, value = compress_value(e.encode_value())
            tenant = e.tenant.encode()
            attributes = (_RESOLVED | (_EXTRAS if e.has_extras else 0)
                          | (_STATE if e.state else 0) | (codec << 8))
            payload = _PAYLOAD.pack(e.offset, e.timestamp_ms, attributes, len(tenant)) + tenant
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
