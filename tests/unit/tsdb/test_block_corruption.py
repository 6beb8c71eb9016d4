"""Damaged block files raise CorruptBlockError (file + offset), never wrong data."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from tidewell.model.labels import Labels
from tidewell.model.matchers import Matcher, MatchType
from tidewell.tsdb.block import BlockReader, CorruptBlockError, write_block

ALL = [Matcher(MatchType.REGEX, "__name__", ".+")]


def _series() -> list[tuple[Labels, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(2)
    out = []
    for i in range(12):
        labels = Labels([("__name__", "m"), ("i", f"{i:02d}"), ("k", str(i % 3))])
        ts = np.arange(250, dtype=np.int64) * 10_000
        out.append((labels, ts, rng.normal(size=250)))
    return out


@pytest.fixture()
def block(tmp_path: Path) -> Path:
    path, _ = write_block(tmp_path / "src", _series())
    return path


def _read_all(path: Path) -> list[tuple]:
    with BlockReader(path) as reader:
        q = reader.querier(0, 2**62)
        return [(s.labels, s.timestamps.tolist(), s.values.tobytes()) for s in q.select(ALL)]


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x5A
    path.write_bytes(bytes(data))


def test_chunk_crc_mismatch_names_file_and_offset(block: Path) -> None:
    seg = block / "chunks" / "000001"
    _flip(seg, 60)
    with pytest.raises(CorruptBlockError) as err:
        _read_all(block)
    assert err.value.file == str(seg)
    assert 8 <= err.value.offset <= 60
    assert "CRC32C" in str(err.value) and "000001" in str(err.value)


def test_truncated_segment(block: Path) -> None:
    seg = block / "chunks" / "000001"
    size = seg.stat().st_size
    with open(seg, "r+b") as f:
        f.truncate(size - 100)
    with pytest.raises(CorruptBlockError, match=r"truncated|past segment end"):
        _read_all(block)


def test_segment_bad_magic_and_missing_segment(block: Path) -> None:
    seg = block / "chunks" / "000001"
    _flip(seg, 0)
    with pytest.raises(CorruptBlockError, match="magic"):
        BlockReader(block)
    seg.rename(block / "chunks" / "000002")
    with pytest.raises(CorruptBlockError, match="000001 missing"):
        BlockReader(block)


def test_index_toc_crc(block: Path) -> None:
    index = block / "index"
    _flip(index, index.stat().st_size - 10)
    with pytest.raises(CorruptBlockError, match="TOC") as err:
        BlockReader(block)
    assert err.value.file == str(index)


def test_index_symbol_table_crc(block: Path) -> None:
    _flip(block / "index", 12)  # inside the first symbols
    with pytest.raises(CorruptBlockError, match="symbol table CRC32C") as err:
        _read_all(block)
    assert err.value.offset == 5  # the symbol table starts right after the header


def test_truncated_index(block: Path) -> None:
    index = block / "index"
    data = index.read_bytes()
    index.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptBlockError):
        BlockReader(block)


def test_index_bad_magic(block: Path) -> None:
    _flip(block / "index", 1)
    with pytest.raises(CorruptBlockError, match="magic"):
        BlockReader(block)


def test_invalid_meta_json(block: Path) -> None:
    (block / "meta.json").write_text('{"ulid": "x", "version": 1}')
    with pytest.raises(CorruptBlockError, match=r"meta\.json"):
        BlockReader(block)


def test_any_flipped_byte_is_detected_or_harmless(block: Path, tmp_path: Path) -> None:
    """Flip bytes all over index and chunks: a read either fails with
    CorruptBlockError or returns exactly the original data (bytes nobody reads,
    such as padding and the legacy label index sections)."""
    want = _read_all(block)
    rng = np.random.default_rng(9)
    detected = 0
    for name in ("index", "chunks/000001"):
        size = (block / name).stat().st_size
        for off in rng.choice(size, size=min(size, 60), replace=False):
            work = tmp_path / "work"
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(block, work)
            _flip(work / name, int(off))
            try:
                got = _read_all(work)
            except CorruptBlockError as exc:
                assert exc.file.endswith(name.split("/")[-1])
                detected += 1
                continue
            assert got == want, f"flip at {name}:{off} changed the data silently"
    assert detected > 60


def test_postings_list_crc(block: Path) -> None:
    # Locate the postings section through the TOC and damage its first list,
    # the all-series list that negative matchers start from.
    data = (block / "index").read_bytes()
    toc = struct.unpack(">6Q", data[-52:-4])
    postings_start = toc[4]
    _flip(block / "index", postings_start + 9)
    with BlockReader(block) as reader:
        q = reader.querier(0, 2**62)
        assert len(q.select([Matcher.equal("k", "1")])) == 4  # other lists are fine
        with pytest.raises(CorruptBlockError, match="postings list CRC32C") as err:
            q.select([Matcher(MatchType.NOT_EQUAL, "k", "nope")])
    assert err.value.offset == postings_start
