"""The ingester's record WAL: compressed entries, older uncompressed entries, damage."""

from __future__ import annotations

import os
import struct

import google_crc32c

from tidewell.ingest.log import Record
from tidewell.ingester.wal import RecordWAL


def _value(i: int) -> bytes:
    return b"".join(b"\x0a\x08__name__\x12\x04up_" + bytes([i % 256, k]) for k in range(200))


def _records(n: int, first: int = 0) -> list[Record]:
    return [Record(0, first + i, b"tenant", _value(i), 1, 1000 + i) for i in range(n)]


def test_records_round_trip_and_large_values_are_compressed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    wal = RecordWAL(str(tmp_path), 0)
    recs = _records(20)
    wal.append(recs)
    wal.close()
    raw = sum(len(r.value) for r in recs)
    assert os.path.getsize(tmp_path / "00000001") < raw // 4
    assert list(RecordWAL(str(tmp_path), 0).replay()) == recs


def test_entries_written_before_compression_still_replay(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rec = _records(1)[0]
    payload = struct.pack("<qqHH", rec.offset, rec.timestamp_ms, rec.version, len(rec.key))
    payload += rec.key + rec.value  # attributes = version, codec 0
    entry = struct.pack("<II", google_crc32c.value(payload), len(payload)) + payload
    (tmp_path / "00000001").write_bytes(entry)
    wal = RecordWAL(str(tmp_path), 0)
    assert list(wal.replay()) == [rec]
    wal.append(_records(2, first=1))
    wal.close()
    assert [r.offset for r in RecordWAL(str(tmp_path), 0).replay()] == [0, 1, 2]


def test_a_compressed_entry_that_does_not_decompress_ends_replay_like_a_torn_tail(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    wal = RecordWAL(str(tmp_path), 0)
    wal.append(_records(3))
    wal.close()
    payload = struct.pack("<qqHH", 3, 5, 1 | (4 << 8), 1) + b"t" + b"not zstd" * 50
    entry = struct.pack("<II", google_crc32c.value(payload), len(payload)) + payload
    with open(tmp_path / "00000001", "ab") as f:
        f.write(entry)
    size_before = os.path.getsize(tmp_path / "00000001") - len(entry)
    assert [r.offset for r in RecordWAL(str(tmp_path), 0).replay()] == [0, 1, 2]
    assert os.path.getsize(tmp_path / "00000001") == size_before
