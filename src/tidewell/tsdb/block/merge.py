"""Merges blocks into one: the compactor's horizontal and vertical compaction.

Sources are read series by series in label order (every block's index lists
its series sorted) and merged like a k-way merge sort, so only one series of
each source is in memory at a time; chunk bytes go straight to the new block's
segment files. A series whose chunks do not overlap keeps them byte for byte
(horizontal compaction). Overlapping chunks — the same partition's block
uploaded by two zones, out-of-order or backfilled blocks — are decoded, each
timestamp kept once (first source wins), and cut again by the head's chunking
rules (vertical compaction), for floats and histograms alike.

``merge_blocks`` is not exported from ``tidewell.tsdb.block``: it builds on the
head's chunk cutting, which itself imports the block package.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tidewell.model.histogram import Histogram
from tidewell.model.labels import Labels
from tidewell.tsdb.block.chunking import DEFAULT_CHUNK_RANGE_MS
from tidewell.tsdb.block.meta import BlockMeta
from tidewell.tsdb.block.reader import BlockReader
from tidewell.tsdb.block.writer import BlockWriter
from tidewell.tsdb.chunkenc import ENCODING_XOR, decode_xor
from tidewell.tsdb.chunkenc.histogram import decode_histogram_chunk
from tidewell.tsdb.head.compact import interleave
from tidewell.tsdb.head.hist_chunks import HistChunk
from tidewell.tsdb.head.hist_store import chunk_histograms
from tidewell.tsdb.head.open_chunks import split_chunks

__all__ = ["Chunk", "merge_blocks", "merge_chunks", "split_blocks"]

Chunk = tuple[int, int, int, bytes]
"""``(mint, maxt, encoding, data)`` of one stored chunk."""


def _block_series(reader: BlockReader) -> Iterator[tuple[Labels, list[Chunk]]]:
    """Every series of a block in label order with its raw chunks."""
    index, chunks = reader.index, reader.chunks
    for ref in index.all_postings().tolist():
        s = index.series(int(ref))
        out: list[Chunk] = []
        for mint, maxt, cref in zip(s.mints.tolist(), s.maxts.tolist(), s.refs.tolist(),
                                    strict=True):
            seg, start, end, enc = chunks.locate(int(cref))
            out.append((mint, maxt, enc, bytes(chunks.segment_buffer(seg)[start:end])))
        yield s.labels, out


def _dedup_sorted(ts: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    keep = np.ones(ts.shape[0], dtype=np.bool_)
    keep[1:] = ts[1:] != ts[:-1]
    return keep


def merge_chunks(chunks: Sequence[Chunk], chunk_range: int) -> list[Chunk]:
    """One series' chunks from several blocks as non-overlapping chunks, each sample once.

    Identical chunks (zone copies cut at the same samples) are dropped without
    decoding; chunks that still overlap are decoded and cut again.
    """
    uniq = sorted(set(chunks), key=lambda c: (c[0], c[1]))
    if all(b[0] > a[1] for a, b in itertools.pairwise(uniq)):
        return uniq
    fts: list[npt.NDArray[np.int64]] = []
    fvs: list[npt.NDArray[np.float64]] = []
    hts: list[int] = []
    hvs: list[Histogram] = []
    for c in chunks:  # source order: the first copy of a timestamp wins
        if c[2] == ENCODING_XOR:
            t, v = decode_xor(c[3])
            fts.append(t)
            fvs.append(v)
        else:
            t, h = decode_histogram_chunk(c[3], c[2])
            hts.extend(t.tolist())
            hvs.extend(h)
    floats: list[tuple[int, int, bytes]] = []
    if fts:
        ft, fv = np.concatenate(fts), np.concatenate(fvs)
        order = np.argsort(ft, kind="stable")
        ft, fv = ft[order], fv[order]
        keep = _dedup_sorted(ft)
        floats = split_chunks(ft[keep], fv[keep], chunk_range)
    hists: list[HistChunk] = []
    if hts:
        order = sorted(range(len(hts)), key=hts.__getitem__)
        ht = [hts[i] for n, i in enumerate(order) if n == 0 or hts[order[n - 1]] != hts[i]]
        hv = [hvs[i] for n, i in enumerate(order) if n == 0 or hts[order[n - 1]] != hts[i]]
        hists = chunk_histograms(ht, hv, chunk_range)
    out: list[Chunk] = []
    for c in interleave(floats, hists, chunk_range):
        if len(c) == 3:
            out.append((c[0], c[1], ENCODING_XOR, c[2]))
        else:
            out.append((c[0], c[1], c[2], c[3]))  # type: ignore[misc]
    return out


def _series_hash(labels: Labels) -> int:
    """A stable 64-bit hash of a label set (names and values, ``\xff``-separated)."""
    data = b"".join(n.encode() + b"\xff" + v.encode() + b"\xff" for n, v in labels)
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def _merged_series(
    readers: Sequence[BlockReader], chunk_range: int
) -> Iterator[tuple[Labels, list[Chunk]]]:
    """Every series of the readers in label order, chunks merged (``merge_chunks``)."""
    streams = [
        ((labels, i, chunks) for labels, chunks in _block_series(r))
        for i, r in enumerate(readers)
    ]
    merged = heapq.merge(*streams, key=lambda x: (x[0], x[1]))
    for labels, group in itertools.groupby(merged, key=lambda x: x[0]):
        out = merge_chunks([c for _, _, cs in group for c in cs], chunk_range)
        if out:
            yield labels, out


def _writer(metas: Sequence[BlockMeta], parent: str | os.PathLike[str], *, min_time: int,
            max_time: int, thanos_labels: Mapping[str, str] | None, ulid: str | None,
            chunk_range: int) -> BlockWriter:
    """A writer whose ``meta.json`` records the sources' lineage, as Prometheus's compactor."""
    return BlockWriter(
        parent,
        ulid=ulid,
        min_time=min_time,
        max_time=max_time,
        thanos_labels=thanos_labels,
        source="compactor",
        compaction_level=max(m.compaction_level for m in metas) + 1,
        compaction_sources=sorted({s for m in metas for s in m.compaction_sources or [m.ulid]}),
        compaction_parents=[
            {"ulid": m.ulid, "minTime": m.min_time, "maxTime": m.max_time} for m in metas
        ],
        chunk_range=chunk_range,
    )


def merge_blocks(
    sources: Sequence[str | os.PathLike[str]],
    parent: str | os.PathLike[str],
    *,
    min_time: int,
    max_time: int,
    thanos_labels: Mapping[str, str] | None = None,
    ulid: str | None = None,
    chunk_range: int = DEFAULT_CHUNK_RANGE_MS,
) -> tuple[Path, BlockMeta]:
    """Write the merge of the ``sources`` block directories as one block under ``parent``.

    The new block's ``meta.json`` carries ``compaction.level`` (one more than the
    highest source), ``sources`` (union of the sources' sources) and
    ``parents``, as Prometheus's compactor writes them.
    """
    readers = [BlockReader(p) for p in sources]
    try:
        writer = _writer([r.meta for r in readers], parent, min_time=min_time,
                         max_time=max_time, thanos_labels=thanos_labels, ulid=ulid,
                         chunk_range=chunk_range)
        try:
            for labels, chunks in _merged_series(readers, chunk_range):
                writer.add_series_chunks(labels, chunks)
        except BaseException:
            writer.abort()
            raise
        meta = writer.finish()
        return writer.path, meta
    finally:
        for r in readers:
            r.close()


def split_blocks(
    sources: Sequence[str | os.PathLike[str]],
    parent: str | os.PathLike[str],
    *,
    shard_count: int,
    shard_label: str,
    min_time: int,
    max_time: int,
    thanos_labels: Mapping[str, str] | None = None,
    chunk_range: int = DEFAULT_CHUNK_RANGE_MS,
) -> list[tuple[Path, BlockMeta]]:
    """Merge the sources and split the result into ``shard_count`` blocks (split stage).

    A series goes to shard ``hash(labels) % shard_count``; shard ``i`` carries the
    external label ``shard_label="<i+1>_of_<shard_count>"``. Shards without
    series are not written.
    """
    readers = [BlockReader(p) for p in sources]
    writers: list[BlockWriter] = []
    try:
        metas = [r.meta for r in readers]
        for i in range(shard_count):
            labels = {**(thanos_labels or {}), shard_label: f"{i + 1}_of_{shard_count}"}
            writers.append(_writer(metas, parent, min_time=min_time, max_time=max_time,
                                   thanos_labels=labels, ulid=None, chunk_range=chunk_range))
        used = [False] * shard_count
        try:
            for labels, chunks in _merged_series(readers, chunk_range):
                i = _series_hash(labels) % shard_count
                writers[i].add_series_chunks(labels, chunks)
                used[i] = True
        except BaseException:
            for w in writers:
                w.abort()
            raise
        out = []
        for w, u in zip(writers, used, strict=True):
            if u:
                out.append((w.path, w.finish()))
            else:
                w.abort()
        return out
    finally:
        for r in readers:
            r.close()
