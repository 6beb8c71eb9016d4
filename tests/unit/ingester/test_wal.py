"""The ingester's WAL: resolved entries round-trip compressed; older raw-record entries replay."""

from __future__ import annotations

import os
import struct

import google_crc32c
import numpy as np
import pytest

from tidewell.ingest.codec import compress_value
from tidewell.ingest.log import Record
from tidewell.ingester.wal import RecordWAL, ResolvedEntry
from tidewell.model import Labels


def _entry(offset: int, n: int = 500, new: int = 3) -> ResolvedEntry:
    labels = [Labels.from_dict({"__name__": "up", "job": "é", "i": str(offset * 10 + i)})
              for i in range(new)]
    return ResolvedEntry(
        offset, 1000 + offset, "tenant-1", ooo_window_ms=60_000, first_ref=offset * 10,
        new_labels=labels, refs=np.arange(n, dtype=np.int32) % 7,
        timestamps=1_700_000_000_000 + np.arange(n, dtype=np.int64) * 15_000,
        values=np.arange(n, dtype=np.float64) * 2.5)


def _same(a: ResolvedEntry, b: ResolvedEntry) -> bool:
    return (
        (a.offset, a.timestamp_ms, a.tenant, a.ooo_window_ms, a.first_ref, list(a.new_labels))
        == (b.offset, b.timestamp_ms, b.tenant, b.ooo_window_ms, b.first_ref, list(b.new_labels))
        and a.refs.tolist() == b.refs.tolist() and a.timestamps.tolist() == b.timestamps.tolist()
        and a.values.tolist() == b.values.tolist())


def _raw_entry(rec: Record, codec_value: tuple[int, bytes] | None = None) -> bytes:
    """An entry as written before entries were resolved: the raw record."""
    codec, value = codec_value or (0, rec.value)
    payload = struct.pack("<qqHH", rec.offset, rec.timestamp_ms, rec.version | (codec << 8),
                          len(rec.key)) + rec.key + value
    return struct.pack("<II", google_crc32c.value(payload), len(payload)) + payload


def test_resolved_entries_round_trip_compressed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    entries = [_entry(i) for i in range(5)] + [ResolvedEntry(5, 9, "t2")]  # an empty one too
    wal = RecordWAL(str(tmp_path), 0)
    wal.append(entries)
    wal.close()
    raw = sum(20 * e.refs.shape[0] for e in entries)
    assert os.path.getsize(tmp_path / "00000001") < raw // 2
    got = list(RecordWAL(str(tmp_path), 0).replay())
    assert len(got) == 6 and all(_same(a, b) for a, b in zip(got, entries, strict=True))


@pytest.mark.parametrize("compressed", [False, True])
def test_raw_record_entries_from_older_versions_still_replay(tmp_path, compressed) -> None:  # type: ignore[no-untyped-def]
    rec = Record(0, 0, b"tenant", b"\x0a\x05hello" * 60, 1, 1000)
    codec = compress_value(rec.value) if compressed else None
    (tmp_path / "00000001").write_bytes(_raw_entry(rec, codec))
    wal = RecordWAL(str(tmp_path), 0)
    assert list(wal.replay()) == [rec]
    wal.append([_entry(1)])
    wal.close()
    got = list(RecordWAL(str(tmp_path), 0).replay())
    assert got[0] == rec and _same(got[1], _entry(1))


def test_an_entry_that_does_not_decompress_ends_replay_like_a_torn_tail(tmp_path) -> None:  # type: ignore[no-untyped-def]
    wal = RecordWAL(str(tmp_path), 0)
    wal.append([_entry(i) for i in range(3)])
    wal.close()
    payload = struct.pack("<qqHH", 3, 5, 0x8000 | (4 << 8), 1) + b"t" + b"not zstd" * 50
    entry = struct.pack("<II", google_crc32c.value(payload), len(payload)) + payload
    with open(tmp_path / "00000001", "ab") as f:
        f.write(entry)
    size_before = os.path.getsize(tmp_path / "00000001") - len(entry)
    assert [e.offset for e in RecordWAL(str(tmp_path), 0).replay()] == [0, 1, 2]
    assert os.path.getsize(tmp_path / "00000001") == size_before
