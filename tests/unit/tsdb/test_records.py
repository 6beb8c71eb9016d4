from __future__ import annotations

import os
import subprocess
import sys

import google_crc32c
import numpy as np

from tidewell.tsdb import records as k


def record(data: bytes, enc: int = 1) -> bytes:
    n = len(data)
    varint = bytearray()
    while n >= 0x80:
        varint.append((n & 0x7F) | 0x80)
        n >>= 7
    varint.append(n)
    crc = google_crc32c.value(bytes([enc]) + data)
    return bytes(varint) + bytes([enc]) + data + crc.to_bytes(4, "big")


_PYTHON_RUN = """
import sys
import numpy as np
from tidewell.tsdb import records as k
assert not k.compiled
for line in sys.stdin:
    buf, offs, limits = line.split()
    arr = np.frombuffer(bytes.fromhex(buf), np.uint8)
    o = np.array(offs.split(","), np.int64)
    lim = np.array(limits.split(","), np.int64)
    print(*(",".join(map(str, a.tolist())) for a in k.parse_chunks(arr, o, lim)))
"""


def in_python(cases: list[tuple[bytes, list[int], list[int]]]) -> list[list[list[int]]]:
    """``parse_chunks`` of each case with ``TIDEWELL_CHUNKENC=python`` (plain Python kernels)."""
    lines = "".join(f"{b.hex()} {','.join(map(str, o))} {','.join(map(str, lim))}\n"
                    for b, o, lim in cases)
    proc = subprocess.run([sys.executable, "-c", _PYTHON_RUN], input=lines, text=True,
                          capture_output=True, timeout=120, check=False,
                          env={**os.environ, "TIDEWELL_CHUNKENC": "python"})
    assert proc.returncode == 0, proc.stderr
    return [[[int(x) for x in col.split(",")] for col in line.split()]
            for line in proc.stdout.splitlines()]


def both(buf: bytes, offs: list[int], limits: list[int]) -> tuple[np.ndarray, ...]:
    """Compiled ``parse_chunks``, checked against the plain-Python run of the same input."""
    arr = np.frombuffer(buf, np.uint8)
    fast = k.parse_chunks(arr, np.array(offs, np.int64), np.array(limits, np.int64))
    (slow,) = in_python([(buf, offs, limits)])
    assert fast[3].tolist() == slow[3]
    ok = fast[3] == 0
    for a, b in zip(fast[:3], slow[:3], strict=True):
        np.testing.assert_array_equal(a[ok], np.array(b)[ok])
    return fast


def test_parses_and_verifies_records() -> None:
    a, b = record(bytes(range(256)) * 2), record(b"\x00\x01xyz", enc=2)
    buf = b"pad" + a + b
    start, end, enc, status = both(buf, [3, 3 + len(a)], [len(buf)] * 2)
    assert status.tolist() == [k.CHUNK_OK, k.CHUNK_OK]
    assert enc.tolist() == [1, 2]
    assert buf[start[0] : end[0]] == bytes(range(256)) * 2
    assert buf[start[1] : end[1]] == b"\x00\x01xyz"


def test_crc_mismatch_incomplete_and_bad_length() -> None:
    a = bytearray(record(b"hello world, a chunk"))
    a[5] ^= 0xFF
    b = record(b"another chunk")
    buf = bytes(a) + b + b"\xff\xff\xff\xff\xff\xff"
    offs = [0, len(a), len(a), len(a) + len(b)]
    limits = [len(buf), len(buf), len(a) + len(b) - 2, len(buf)]
    _, end, _, status = both(buf, offs, limits)
    assert status.tolist() == [
        k.CHUNK_CRC_MISMATCH, k.CHUNK_OK, k.CHUNK_INCOMPLETE, k.CHUNK_BAD_LENGTH,
    ]
    assert end[2] + 4 == len(a) + len(b)  # tells how far the record reaches


_PYTHON_SERIES = """
import sys
import numpy as np
from tidewell.tsdb import records as k
assert not k.compiled
buf = np.fromfile(sys.argv[1], dtype=np.uint8)
refs = np.array(sys.argv[2].split(","), np.int64)
b = k.decode_series(buf, refs, int(sys.argv[3]), int(sys.argv[4]))
for name in ("status", "lab_off", "chk_off", "labels", "mints", "maxts", "refs"):
    print(",".join(map(str, getattr(b, name).tolist())))
"""


def test_decode_series_matches_index_reader(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.unit.storegateway.sg_helpers import HOUR, T0, make_series
    from tidewell.tsdb.block import write_block
    from tidewell.tsdb.index import IndexReader

    path, _ = write_block(tmp_path, make_series(50, T0, T0 + 2 * HOUR), samples_per_chunk=100)
    ir = IndexReader(path / "index")
    refs = ir.all_postings()
    buf = np.fromfile(path / "index", dtype=np.uint8)
    lo, hi = ir.series_lo, ir.series_hi
    b = k.decode_series(buf, refs, lo, hi)
    assert (b.status == k.SERIES_OK).all()
    syms = ir.symbols()
    for i, ref in enumerate(refs.tolist()):
        want = ir.series(ref)
        names = [syms[x] for x in b.labels[2 * b.lab_off[i] : 2 * b.lab_off[i + 1]]]
        assert list(zip(names[::2], names[1::2], strict=True)) == list(want.labels)
        c0, c1 = b.chk_off[i], b.chk_off[i + 1]
        np.testing.assert_array_equal(b.mints[c0:c1], want.mints)
        np.testing.assert_array_equal(b.maxts[c0:c1], want.maxts)
        np.testing.assert_array_equal(b.refs[c0:c1], want.refs.astype(np.int64))
    assert b.chk_off[-1] == 50 * 4  # 480 samples in chunks of <= 100
    # The plain-Python kernels (TIDEWELL_CHUNKENC=python) decode the same entries.
    proc = subprocess.run(
        [sys.executable, "-c", _PYTHON_SERIES, str(path / "index"),
         ",".join(map(str, refs.tolist())), str(lo), str(hi)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "TIDEWELL_CHUNKENC": "python"})
    assert proc.returncode == 0, proc.stderr
    names = ("status", "lab_off", "chk_off", "labels", "mints", "maxts", "refs")
    for name, line in zip(names, proc.stdout.splitlines(), strict=True):
        assert ",".join(map(str, getattr(b, name).tolist())) == line, name
    # A flipped byte inside an entry fails its CRC; refs outside the section are refused.
    bad = buf.copy()
    bad[int(refs[3]) * 16 + 3] ^= 0xFF
    status = k.decode_series(bad, refs, lo, hi).status
    assert status[3] == k.SERIES_CRC_MISMATCH and (np.delete(status, 3) == 0).all()
    assert k.decode_series(buf, np.array([hi // 16 + 1]), lo, hi).status[0] == (
        k.SERIES_OUT_OF_BOUNDS
    )
