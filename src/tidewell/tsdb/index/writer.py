"""Index format v2 writer (Prometheus ``tsdb/docs/format/index.md``).

Given every series of a block, sorted by labels, with its chunk metadata,
writes: header, symbol table, series (16-byte aligned, ID = offset / 16),
label indices, postings (the all-series list under ("", "") first), label
offset table, postings offset table and TOC, each section with a big-endian
CRC32C. The whole index is assembled in memory and written once.
"""

from __future__ import annotations

import itertools
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import google_crc32c

from tidewell.model.labels import Labels
from tidewell.util.varint import put_uvarint, put_varint

__all__ = ["INDEX_MAGIC", "INDEX_VERSION_V2", "ChunkMeta", "SeriesEntry", "write_index"]

INDEX_MAGIC = 0xBAAAD700
INDEX_VERSION_V2 = 2


@dataclass(frozen=True, slots=True)
class ChunkMeta:
    """Where a chunk lives and which time range it covers (both ends inclusive)."""

    ref: int
    mint: int
    maxt: int


@dataclass(frozen=True, slots=True)
class SeriesEntry:
    labels: Labels
    chunks: Sequence[ChunkMeta]


def _crc(data: bytes | bytearray) -> bytes:
    return google_crc32c.value(bytes(data)).to_bytes(4, "big")


def _pad(buf: bytearray, align: int) -> None:
    rem = len(buf) % align
    if rem:
        buf += bytes(align - rem)


def _section(buf: bytearray, body: bytes | bytearray) -> None:
    """``len <4b> | body | CRC32C(body)``."""
    buf += struct.pack(">I", len(body))
    buf += body
    buf += _crc(body)


def _put_str(out: bytearray, s: str) -> None:
    b = s.encode()
    put_uvarint(out, len(b))
    out += b


def build_index(series: Sequence[SeriesEntry]) -> bytes:
    """The index file's bytes for ``series`` (which must be sorted by labels)."""
    # Prometheus's symbol table always holds "" (from the all-series postings key).
    symbols: set[str] = {""}
    for prev, cur in itertools.pairwise(series):
        if not prev.labels < cur.labels:
            raise ValueError(f"series not sorted or duplicated: {prev.labels} then {cur.labels}")
    for s in series:
        for n, v in s.labels:
            symbols.add(n)
            symbols.add(v)
    sorted_syms = sorted(symbols)
    sym_idx = {s: i for i, s in enumerate(sorted_syms)}

    buf = bytearray(struct.pack(">IB", INDEX_MAGIC, INDEX_VERSION_V2))

    # Symbol table.
    toc_symbols = len(buf)
    body = bytearray(struct.pack(">I", len(sorted_syms)))
    for s in sorted_syms:
        _put_str(body, s)
    _section(buf, body)

    # Series. Like Prometheus, the TOC points at the section start before the
    # first entry's 16-byte alignment padding.
    toc_series = len(buf)
    postings: dict[tuple[str, str], list[int]] = {}
    all_refs: list[int] = []
    for s in series:
        _pad(buf, 16)
        ref = len(buf) // 16
        if ref > 0xFFFFFFFF:
            raise ValueError("index series section exceeds 64 GiB")
        all_refs.append(ref)
        body = bytearray()
        put_uvarint(body, len(s.labels))
        for n, v in s.labels:
            put_uvarint(body, sym_idx[n])
            put_uvarint(body, sym_idx[v])
            postings.setdefault((n, v), []).append(ref)
        put_uvarint(body, len(s.chunks))
        prev_maxt = prev_ref = 0
        for i, c in enumerate(s.chunks):
            if c.maxt < c.mint:
                raise ValueError(f"chunk maxt {c.maxt} < mint {c.mint} in {s.labels}")
            if i == 0:
                put_varint(body, c.mint)
                put_uvarint(body, c.maxt - c.mint)
                put_uvarint(body, c.ref)
            else:
                if c.mint < prev_maxt:
                    raise ValueError(f"overlapping chunks in {s.labels}")
                put_uvarint(body, c.mint - prev_maxt)
                put_uvarint(body, c.maxt - c.mint)
                put_varint(body, c.ref - prev_ref)
            prev_maxt, prev_ref = c.maxt, c.ref
        put_uvarint(buf, len(body))
        buf += body
        buf += _crc(body)

    # Label indices: one per label name (no longer read by Prometheus, kept
    # for older readers).
    names: dict[str, list[str]] = {}
    for n, v in sorted(postings):
        names.setdefault(n, []).append(v)
    toc_label_indices = len(buf)  # before padding, as Prometheus records it
    label_index_offsets: list[tuple[str, int]] = []
    for n, values in names.items():
        _pad(buf, 4)
        label_index_offsets.append((n, len(buf)))
        body = bytearray(struct.pack(">II", 1, len(values)))
        body += struct.pack(f">{len(values)}I", *(sym_idx[v] for v in values))
        _section(buf, body)

    # Postings: the all-series list first, then one per label pair in order.
    toc_postings = len(buf)
    postings_offsets: list[tuple[str, str, int]] = []
    keys = [("", ""), *sorted(postings)]
    for key in keys:
        refs = all_refs if key == ("", "") else postings[key]
        _pad(buf, 4)
        postings_offsets.append((key[0], key[1], len(buf)))
        body = bytearray(struct.pack(">I", len(refs)))
        body += struct.pack(f">{len(refs)}I", *refs)
        _section(buf, body)

    # Label offset table.
    toc_label_offsets = len(buf)
    body = bytearray(struct.pack(">I", len(label_index_offsets)))
    for n, off in label_index_offsets:
        body.append(1)
        _put_str(body, n)
        put_uvarint(body, off)
    _section(buf, body)

    # Postings offset table.
    toc_postings_offsets = len(buf)
    body = bytearray(struct.pack(">I", len(postings_offsets)))
    for n, v, off in postings_offsets:
        body.append(2)
        _put_str(body, n)
        _put_str(body, v)
        put_uvarint(body, off)
    _section(buf, body)

    toc = struct.pack(
        ">6Q",
        toc_symbols,
        toc_series,
        toc_label_indices,
        toc_label_offsets,
        toc_postings,
        toc_postings_offsets,
    )
    buf += toc
    buf += _crc(toc)
    return bytes(buf)


def write_index(path: str | os.PathLike[str], series: Sequence[SeriesEntry]) -> int:
    """Write the index file (fsync'd) and return its size in bytes."""
    data = build_index(series)
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return len(data)
