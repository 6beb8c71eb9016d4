"""Index format v2 reader over mmap, decoding sections only when asked.

Opening reads the TOC and the postings offset table (the map from label pair
to postings list); symbols, series and postings lists are decoded and
CRC-checked on first use. Any inconsistency raises ``CorruptBlockError``
naming the index file and the offset of the damaged section.
"""

from __future__ import annotations

import bisect
import contextlib
import mmap
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import google_crc32c
import numpy as np
import numpy.typing as npt

from tidewell.model.labels import Labels
from tidewell.tsdb.chunkenc.errors import CorruptBlockError
from tidewell.tsdb.index.writer import INDEX_MAGIC, INDEX_VERSION_V2
from tidewell.tsdb.records import (
    SERIES_CRC_MISMATCH,
    SERIES_OK,
    SERIES_OUT_OF_BOUNDS,
    decode_series,
)
from tidewell.util.varint import get_uvarint

__all__ = ["IndexReader", "SeriesChunks"]

_TOC_SIZE = 6 * 8 + 4
_EMPTY = np.empty(0, dtype=np.int64)


def _all_uvarints(body: bytes) -> list[int]:
    """Every uvarint of ``body`` in order (a series entry is nothing else)."""
    out: list[int] = []
    x = shift = 0
    for b in body:
        if b < 0x80:
            out.append(x | (b << shift))
            x = shift = 0
        else:
            x |= (b & 0x7F) << shift
            shift += 7
            if shift > 63:
                raise ValueError("uvarint overflows 64 bits")
    if shift:
        raise ValueError("series entry ends inside a varint")
    return out


class SeriesChunks:
    """One series as stored in the index: labels and its chunks' metadata."""

    __slots__ = ("labels", "maxts", "mints", "refs")

    def __init__(
        self,
        labels: Labels,
        mints: npt.NDArray[np.int64],
        maxts: npt.NDArray[np.int64],
        refs: npt.NDArray[np.uint64],
    ) -> None:
        self.labels = labels
        self.mints = mints
        self.maxts = maxts
        self.refs = refs


class IndexReader:
    def __init__(self, path: str | os.PathLike[str]):
        self.path = str(Path(path))
        with open(self.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < 5 + _TOC_SIZE:
                raise CorruptBlockError(f"index of {size} bytes is too short", self.path, 0)
            self._m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self.size = size
        magic, version = struct.unpack_from(">IB", self._m, 0)
        if magic != INDEX_MAGIC:
            raise CorruptBlockError(f"bad index magic {magic:#x}", self.path, 0)
        if version != INDEX_VERSION_V2:
            raise CorruptBlockError(f"unsupported index version {version}", self.path, 4)
        toc_at = size - _TOC_SIZE
        toc = bytes(self._m[toc_at : toc_at + 48])
        if google_crc32c.value(toc) != int.from_bytes(self._m[toc_at + 48 : size], "big"):
            raise CorruptBlockError("TOC CRC32C mismatch", self.path, toc_at)
        (
            self._toc_symbols,
            self._toc_series,
            self._toc_label_indices,
            self._toc_label_offsets,
            self._toc_postings,
            self._toc_postings_offsets,
        ) = struct.unpack(">6Q", toc)
        for off in struct.unpack(">6Q", toc):
            if off >= toc_at:
                raise CorruptBlockError(f"TOC points past the end ({off})", self.path, toc_at)
        self._symbols: list[str] | None = None
        self.array = np.frombuffer(self._m, dtype=np.uint8)
        # Where series entries may lie: the series section up to the TOC.
        self.series_lo = self._toc_series
        self.series_hi = size - _TOC_SIZE
        self._postings_cache: dict[int, npt.NDArray[np.int64]] = {}
        # name -> (sorted values, offsets of their postings lists)
        self._postings_table: dict[str, tuple[list[str], list[int]]] = {}
        self._all_postings_offset = -1
        self._read_postings_offset_table()

    # -- low level -------------------------------------------------------

    @contextmanager
    def _decoding(self, what: str, offset: int) -> Iterator[None]:
        try:
            yield
        except CorruptBlockError:
            raise
        except (IndexError, ValueError, struct.error, UnicodeDecodeError) as exc:
            raise CorruptBlockError(f"cannot decode {what}: {exc}", self.path, offset) from exc

    def _section(self, offset: int, what: str) -> bytes:
        """Body of a ``len <4b> | body | CRC`` section, CRC-checked."""
        if offset + 4 > self.size:
            raise CorruptBlockError(f"{what} starts past the end", self.path, offset)
        (length,) = struct.unpack_from(">I", self._m, offset)
        end = offset + 4 + length
        if end + 4 > self.size:
            raise CorruptBlockError(
                f"{what} of {length} bytes runs past the end", self.path, offset
            )
        body = bytes(self._m[offset + 4 : end])
        if google_crc32c.value(body) != int.from_bytes(self._m[end : end + 4], "big"):
            raise CorruptBlockError(f"{what} CRC32C mismatch", self.path, offset)
        return body

    def _read_postings_offset_table(self) -> None:
        off = self._toc_postings_offsets
        if off == 0:
            return
        body = self._section(off, "postings offset table")
        with self._decoding("postings offset table", off):
            (count,) = struct.unpack_from(">I", body, 0)
            pos = 4
            table = self._postings_table
            for _ in range(count):
                if body[pos] != 2:
                    raise ValueError(f"entry with {body[pos]} keys, want 2")
                pos += 1
                ln, pos = get_uvarint(body, pos)
                name = body[pos : pos + ln].decode()
                pos += ln
                lv, pos = get_uvarint(body, pos)
                value = body[pos : pos + lv].decode()
                pos += lv
                poff, pos = get_uvarint(body, pos)
                if name == "" and value == "":
                    self._all_postings_offset = poff
                    continue
                entry = table.get(name)
                if entry is None:
                    entry = table[name] = ([], [])
                entry[0].append(value)
                entry[1].append(poff)

    # -- symbols ---------------------------------------------------------

    def symbols(self) -> list[str]:
        if self._symbols is None:
            off = self._toc_symbols
            body = self._section(off, "symbol table")
            with self._decoding("symbol table", off):
                (count,) = struct.unpack_from(">I", body, 0)
                pos = 4
                syms = []
                for _ in range(count):
                    ln, pos = get_uvarint(body, pos)
                    if pos + ln > len(body):
                        raise ValueError("symbol runs past the section")
                    syms.append(body[pos : pos + ln].decode())
                    pos += ln
            self._symbols = syms
        return self._symbols

    # -- labels & postings -----------------------------------------------

    def label_names(self) -> list[str]:
        return sorted(self._postings_table)

    def label_values(self, name: str) -> list[str]:
        entry = self._postings_table.get(name)
        return list(entry[0]) if entry else []

    def _postings_at(self, offset: int) -> npt.NDArray[np.int64]:
        cached = self._postings_cache.get(offset)
        if cached is not None:
            return cached
        body = self._section(offset, "postings list")
        with self._decoding("postings list", offset):
            (count,) = struct.unpack_from(">I", body, 0)
            if len(body) != 4 + 4 * count:
                raise ValueError(f"{count} entries do not fit {len(body)} bytes")
            refs = np.frombuffer(body, dtype=">u4", offset=4, count=count).astype(np.int64)
        self._postings_cache[offset] = refs
        return refs

    def all_postings(self) -> npt.NDArray[np.int64]:
        if self._all_postings_offset < 0:
            return _EMPTY
        return self._postings_at(self._all_postings_offset)

    def postings(self, name: str, value: str) -> npt.NDArray[np.int64]:
        entry = self._postings_table.get(name)
        if entry is None:
            return _EMPTY
        i = bisect.bisect_left(entry[0], value)
        if i == len(entry[0]) or entry[0][i] != value:
            return _EMPTY
        return self._postings_at(entry[1][i])

    def postings_for_values(self, name: str, values: list[str]) -> npt.NDArray[np.int64]:
        """Union of the postings of ``name=v`` for every ``v`` in ``values``."""
        lists = [self.postings(name, v) for v in values]
        lists = [x for x in lists if x.shape[0]]
        if not lists:
            return _EMPTY
        if len(lists) == 1:
            return lists[0]
        return np.unique(np.concatenate(lists))

    # -- series ----------------------------------------------------------

    def series(self, ref: int) -> SeriesChunks:
        """Labels and chunk metadata of series ``ref`` (offset / 16), CRC-checked."""
        off = ref * 16
        with self._decoding("series entry", off):
            if off < self._toc_series or off >= self.size - _TOC_SIZE:
                raise ValueError(f"series ref {ref} outside the series section")
            length, pos = get_uvarint(self._m, off)
            end = pos + length
            if end + 4 > self.size:
                raise ValueError("series entry runs past the end")
            body = bytes(self._m[pos:end])
            if google_crc32c.value(body) != int.from_bytes(self._m[end : end + 4], "big"):
                raise CorruptBlockError("series entry CRC32C mismatch", self.path, off)
            syms = self.symbols()
            v = _all_uvarints(body)
            nl = v[0]
            pairs = [(syms[v[k]], syms[v[k + 1]]) for k in range(1, 1 + 2 * nl, 2)]
            nc = v[1 + 2 * nl]
            if len(v) != 2 + 2 * nl + 3 * nc:
                raise ValueError(f"{len(v)} varints do not fit {nl} labels and {nc} chunks")
            mints = np.empty(nc, dtype=np.int64)
            maxts = np.empty(nc, dtype=np.int64)
            refs = np.empty(nc, dtype=np.uint64)
            p = 2 + 2 * nl
            maxt = cref = 0
            for c in range(nc):
                a, d, r = v[p], v[p + 1], v[p + 2]
                p += 3
                if c == 0:
                    mint = (a >> 1) ^ -(a & 1)
                    cref = r
                else:
                    mint = maxt + a
                    cref += (r >> 1) ^ -(r & 1)
                maxt = mint + d
                mints[c], maxts[c], refs[c] = mint, maxt, cref
        return SeriesChunks(Labels.from_sorted(pairs), mints, maxts, refs)

    def series_batch(self, refs: npt.NDArray[np.int64]) -> list[SeriesChunks]:
        """Series entries of ``refs``, decoded and CRC-checked in one compiled pass."""
        b = decode_series(self.array, refs, self.series_lo, self.series_hi)
        bad = np.flatnonzero(b.status != SERIES_OK)
        if bad.shape[0]:
            k = int(bad[0])
            why = {SERIES_OUT_OF_BOUNDS: "series ref outside the series section",
                   SERIES_CRC_MISMATCH: "series entry CRC32C mismatch"}.get(
                       int(b.status[k]), "malformed series entry")
            raise CorruptBlockError(why, self.path, int(refs[k]) * 16)
        syms = self.symbols()
        try:
            names = [syms[i] for i in b.labels.tolist()]
        except IndexError:
            raise CorruptBlockError("series entry names a missing symbol", self.path) from None
        lab_off = (2 * b.lab_off).tolist()
        chk_off = b.chk_off.tolist()
        mints, maxts, crefs = b.mints, b.maxts, b.refs.view(np.uint64)
        out = []
        for k in range(refs.shape[0]):
            lo, hi = lab_off[k], lab_off[k + 1]
            pairs = Labels.from_sorted(zip(names[lo:hi:2], names[lo + 1 : hi : 2], strict=True))
            c0, c1 = chk_off[k], chk_off[k + 1]
            out.append(SeriesChunks(pairs, mints[c0:c1], maxts[c0:c1], crefs[c0:c1]))
        return out

    def close(self) -> None:
        self.array = np.empty(0, dtype=np.uint8)
        with contextlib.suppress(BufferError):  # views alive: the GC unmaps later
            self._m.close()

    def __enter__(self) -> IndexReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
