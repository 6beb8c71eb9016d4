"""Chunk segment files: ``<block>/chunks/000001``, ``000002``…

Layout (Prometheus ``tsdb/docs/format/chunks.md``): an 8-byte header (magic
0x85BD40DD big-endian, version 1, 3 zero bytes), then per chunk ``len``
(uvarint, data bytes), one encoding byte, the data, and a big-endian CRC32C
over encoding byte + data. Segments stay below 512 MiB.

A chunk reference is ``segment_index << 32 | offset`` where segment_index
counts files from 0 (``000001`` is 0) and offset points at the ``len`` field.
Readers memory-map the files and verify a chunk's CRC when it is read.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct
from pathlib import Path
from typing import BinaryIO

import google_crc32c
import numpy as np
import numpy.typing as npt

from tidewell.tsdb.chunkenc.errors import CorruptBlockError
from tidewell.tsdb.records import CHUNK_CRC_MISMATCH, CHUNK_INCOMPLETE, CHUNK_OK, parse_chunks
from tidewell.util.varint import uvarint

__all__ = [
    "CHUNKS_MAGIC",
    "SEGMENT_HEADER_SIZE",
    "SEGMENT_MAX_SIZE",
    "ChunkReader",
    "ChunkWriter",
    "chunk_ref",
    "unpack_chunk_ref",
]

CHUNKS_MAGIC = 0x85BD40DD
CHUNKS_FORMAT_V1 = 1
SEGMENT_HEADER_SIZE = 8
SEGMENT_MAX_SIZE = 512 * 1024 * 1024
_MAX_CHUNK_OVERHEAD = 5 + 1 + 4  # uvarint len (≤5 bytes), encoding, CRC
_HEADER = struct.pack(">IB3x", CHUNKS_MAGIC, CHUNKS_FORMAT_V1)


def chunk_ref(segment: int, offset: int) -> int:
    return (segment << 32) | offset


def unpack_chunk_ref(ref: int) -> tuple[int, int]:
    return ref >> 32, ref & 0xFFFFFFFF


def segment_name(index: int) -> str:
    """File name of segment ``index`` (0-based): ``000001`` for 0."""
    return f"{index + 1:06d}"


class ChunkWriter:
    """Appends chunks to segment files in ``directory``, cutting at ``segment_size``."""

    def __init__(self, directory: str | os.PathLike[str], segment_size: int = SEGMENT_MAX_SIZE):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.segment_size = segment_size
        self._seq = -1
        self._f: BinaryIO | None = None
        self._pos = 0
        self._buf = bytearray()
        self.files: list[Path] = []

    def _cut(self) -> None:
        self._close_segment()
        self._seq += 1
        path = self.dir / segment_name(self._seq)
        self._f = open(path, "wb")  # noqa: SIM115 - closed in _close_segment
        self.files.append(path)
        self._buf += _HEADER
        self._pos = SEGMENT_HEADER_SIZE

    def _flush(self) -> None:
        if self._f is not None and self._buf:
            self._f.write(self._buf)
            self._buf.clear()

    def _close_segment(self) -> None:
        if self._f is not None:
            self._flush()
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
            self._f = None

    def write(self, encoding: int, data: bytes) -> int:
        """Append one chunk and return its reference."""
        size = _MAX_CHUNK_OVERHEAD + len(data)
        if self._f is None or (
            self._pos + size > self.segment_size and self._pos > SEGMENT_HEADER_SIZE
        ):
            self._cut()
        ref = chunk_ref(self._seq, self._pos)
        enc = bytes((encoding,))
        rec = uvarint(len(data)) + enc + data
        crc = google_crc32c.extend(google_crc32c.value(enc), data)
        self._buf += rec
        self._buf += crc.to_bytes(4, "big")
        self._pos += len(rec) + 4
        if len(self._buf) >= 1 << 20:
            self._flush()
        return ref

    def close(self) -> None:
        """Flush and fsync. Like Prometheus, no segment exists if no chunk was written."""
        self._close_segment()

    def __enter__(self) -> ChunkWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ChunkReader:
    """Reads chunks of a block's ``chunks/`` directory through mmap.

    Every read verifies the chunk's CRC32C and bounds; damage raises
    ``CorruptBlockError`` naming the file and offset.
    """

    def __init__(self, directory: str | os.PathLike[str]):
        self.dir = Path(directory)
        names = sorted(p.name for p in self.dir.iterdir() if p.name.isdigit())
        self._paths: list[Path] = []
        self._maps: list[mmap.mmap | bytes] = []
        self._arrays: dict[int, npt.NDArray[np.uint8]] = {}
        for i, name in enumerate(names):
            if name != segment_name(i):
                raise CorruptBlockError(f"chunk segment {segment_name(i)} missing", str(self.dir))
            path = self.dir / name
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < SEGMENT_HEADER_SIZE:
                    raise CorruptBlockError("segment shorter than its header", str(path), 0)
                m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            magic, version = struct.unpack_from(">IB", m, 0)
            if magic != CHUNKS_MAGIC:
                raise CorruptBlockError(f"bad magic {magic:#x}", str(path), 0)
            if version != CHUNKS_FORMAT_V1:
                raise CorruptBlockError(f"unsupported version {version}", str(path), 4)
            self._paths.append(path)
            self._maps.append(m)

    @property
    def segments(self) -> list[Path]:
        return list(self._paths)

    def total_size(self) -> int:
        return sum(len(m) for m in self._maps)

    def locate(self, ref: int) -> tuple[int, int, int, int]:
        """Verify chunk ``ref`` and return (segment, data_start, data_end, encoding)."""
        seg, off = unpack_chunk_ref(ref)
        if seg >= len(self._maps):
            raise CorruptBlockError(
                f"chunk ref {ref:#x} points to missing segment {segment_name(seg)}", str(self.dir)
            )
        m = self._maps[seg]
        end = len(m)
        path = self._paths[seg]
        if off < SEGMENT_HEADER_SIZE or off >= end:
            raise CorruptBlockError(f"chunk offset beyond segment end {end}", str(path), off)
        length = shift = 0
        p = off
        while True:
            if p >= end or p - off >= 5:
                raise CorruptBlockError("truncated or bad chunk length", str(path), off)
            b = m[p]
            p += 1
            length |= (b & 0x7F) << shift
            if b < 0x80:
                break
            shift += 7
        enc_pos = p
        data_end = enc_pos + 1 + length
        if data_end + 4 > end:
            raise CorruptBlockError(
                f"chunk of {length} bytes runs past segment end {end} (truncated)", str(path), off
            )
        want = int.from_bytes(m[data_end : data_end + 4], "big")
        got = google_crc32c.value(bytes(m[enc_pos:data_end]))
        if want != got:
            raise CorruptBlockError(
                f"chunk CRC32C mismatch (stored {want:#010x}, computed {got:#010x})", str(path), off
            )
        return seg, enc_pos + 1, data_end, m[enc_pos]

    def locate_many(self, refs: npt.NDArray[np.uint64]) -> tuple[
            npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64],
            npt.NDArray[np.uint8]]:
        """``locate`` for many chunks at once (compiled bounds and CRC32C checks).

        Returns (segment, data_start, data_end, encoding) arrays in the order of ``refs``.
        """
        refs = np.asarray(refs).astype(np.int64)
        segs = refs >> 32
        offs = refs & 0xFFFFFFFF
        n = refs.shape[0]
        starts = np.zeros(n, dtype=np.int64)
        ends = np.zeros(n, dtype=np.int64)
        encs = np.zeros(n, dtype=np.uint8)
        for seg in np.unique(segs).tolist():
            if seg >= len(self._maps):
                raise CorruptBlockError(
                    f"chunk ref in missing segment {segment_name(seg)}", str(self.dir))
            sel = np.flatnonzero(segs == seg)
            buf = self.segment_array(seg)
            o = offs[sel]
            if bool(((o < SEGMENT_HEADER_SIZE) | (o >= buf.shape[0])).any()):
                raise CorruptBlockError(f"chunk offset beyond segment end {buf.shape[0]}",
                                        str(self._paths[seg]))
            st, en, enc, status = parse_chunks(buf, o, np.full(o.shape[0], buf.shape[0]))
            bad = np.flatnonzero(status != CHUNK_OK)
            if bad.shape[0]:
                k = int(bad[0])
                what = {CHUNK_CRC_MISMATCH: "chunk CRC32C mismatch",
                        CHUNK_INCOMPLETE: "chunk runs past the segment end (truncated)"}.get(
                            int(status[k]), "truncated or bad chunk length")
                raise CorruptBlockError(what, str(self._paths[seg]), int(o[k]))
            starts[sel], ends[sel], encs[sel] = st, en, enc
        return segs, starts, ends, encs

    def segment_array(self, seg: int) -> npt.NDArray[np.uint8]:
        """Segment ``seg`` as a byte array (a view of its mapping)."""
        arr = self._arrays.get(seg)
        if arr is None:
            arr = self._arrays[seg] = np.frombuffer(self._maps[seg], dtype=np.uint8)
        return arr

    def chunk(self, ref: int) -> tuple[int, memoryview]:
        """(encoding, data) of chunk ``ref``; ``data`` is a view into the mmap."""
        seg, start, stop, enc = self.locate(ref)
        return enc, memoryview(self._maps[seg])[start:stop]

    def segment_buffer(self, seg: int) -> mmap.mmap | bytes:
        return self._maps[seg]

    def close(self) -> None:
        self._arrays.clear()
        for m in self._maps:
            if isinstance(m, mmap.mmap):
                with contextlib.suppress(BufferError):  # views alive: the GC unmaps later
                    m.close()
        self._maps = []

    def __enter__(self) -> ChunkReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
