"""Which part of a head becomes the next block, and that part as ready XOR chunks.

Prometheus's rule: a head is compactable once it spans more than 1.5 block
ranges (``maxt - mint > 1.5 * range``); the oldest aligned range
``[k*range, (k+1)*range)`` is then finished (no in-order sample can still land
in it) and is cut into a block, after which the head is truncated at the
range's end.

Out-of-order data: after a truncation the head takes no in-order sample older
than ``min_valid_time``, but stores older ones out of order (late samples, and
those of the tenant's out-of-order window). Such samples (older than
``min_valid_time``) are out-of-order data; they go into their own blocks, one
per aligned range (``ooo_ranges``), as Mimir writes its out-of-order blocks.

``block_series`` yields each series' chunks for a range: the head's own chunks,
closed or open, are copied as they are when they fit the range and do not
overlap (an open chunk is what the head would close if no sample followed);
otherwise (out-of-order overlaps, chunks crossing the range) the samples are
decoded, merged and re-encoded by the head's chunk-cutting rule.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from tidewell.model.histogram import Histogram
from tidewell.model.labels import Labels
from tidewell.tsdb.chunkenc.histogram import decode_histogram_chunk
from tidewell.tsdb.head.chunks import decode_chunk
from tidewell.tsdb.head.head import INT64_MAX, INT64_MIN, ChunkMeta, Head
from tidewell.tsdb.head.hist_chunks import HistChunk
from tidewell.tsdb.head.hist_store import chunk_histograms
from tidewell.tsdb.head.open_chunks import split_chunks

__all__ = [
    "block_series",
    "compactable_range",
    "cut_ranges",
    "inorder_min_time",
    "interleave",
    "is_compactable",
    "occupied_ranges",
    "ooo_ranges",
]

BlockChunks = list[ChunkMeta]
"""Float chunks; ``block_series`` adds ``HistChunk`` (4-tuples) for histograms."""


def inorder_min_time(head: Head) -> int:
    """Oldest time the head's in-order data can have (ignores out-of-order data)."""
    if head.min_valid_time == INT64_MIN:
        return head.min_time
    return max(head.min_time, head.min_valid_time)


def is_compactable(mint: int, maxt: int, block_range_ms: int) -> bool:
    """Prometheus's rule: the head spans more than 1.5 block ranges."""
    if mint == INT64_MAX or maxt == INT64_MIN:
        return False
    return maxt - mint > block_range_ms // 2 * 3


def compactable_range(head: Head) -> tuple[int, int] | None:
    """The oldest finished aligned range ``[lo, hi)`` to cut, or None."""
    r = head.block_range_ms
    with head.lock:
        mint = inorder_min_time(head)
        if not is_compactable(mint, head.max_time, r):
            return None
        lo = mint // r * r
        return lo, lo + r


def occupied_ranges(head: Head) -> npt.NDArray[np.int64]:
    """Sorted indexes ``k`` of the aligned ranges ``[k*r, (k+1)*r)`` holding samples.

    Lets a cut jump over empty stretches (a lone old sample must not make it
    walk through thousands of empty ranges). In-order chunks never cross a
    range; an out-of-order chunk that does is decoded to find its ranges.
    """
    r = head.block_range_ms
    with head.lock:
        _, st, _ = head.staging.sorted_view()
        oc, n = head.open, head.num_series
        parts = [np.unique(st // r), np.unique(oc.mint[:n][oc.count[:n] > 0] // r)]
        single: list[int] = []
        for chunks in head.chunks:
            for c in chunks or ():
                a, b = c[0] // r, c[1] // r
                if a == b:
                    single.append(a)
                else:
                    parts.append(np.unique(decode_chunk(c[2])[0] // r))
        for _, hs in head.hists.items():
            single.extend(hs.range_indexes(r))
        parts.append(np.array(single, dtype=np.int64))
    return np.unique(np.concatenate(parts))


def cut_ranges(head: Head, *, force: bool = False) -> tuple[
    list[tuple[int, int]], list[tuple[int, int]]
]:
    """(out-of-order ranges, in-order ranges) to cut now, each ``[lo, hi)``, oldest first.

    In-order: Prometheus's rule applied range after range, the head's minimum
    moving to the oldest sample left after each (``force``: every range up to the
    newest sample). Out-of-order: ranges below ``min_valid_time``, the last one
    ending there.
    """
    r = head.block_range_ms
    with head.lock:
        mvt, maxt = head.min_valid_time, head.max_time
        mint = inorder_min_time(head)
        has_ooo = mvt != INT64_MIN and head.min_time < mvt
        if not has_ooo and not force and not is_compactable(mint, maxt, r):
            return [], []
        if maxt == INT64_MIN:
            return [], []
    ks = occupied_ranges(head).tolist()
    ooo: list[tuple[int, int]] = []
    inorder: list[tuple[int, int]] = []
    for k in ks:
        lo = k * r
        if mvt != INT64_MIN and lo < mvt:
            ooo.append((lo, min(lo + r, mvt)))
        elif force or is_compactable(max(lo, mint), maxt, r):
            inorder.append((lo, lo + r))
    return ooo, inorder


def ooo_ranges(head: Head) -> list[tuple[int, int]]:
    """Aligned ranges holding out-of-order data (older than ``min_valid_time``)."""
    with head.lock:
        mvt = head.min_valid_time
        if mvt == INT64_MIN or head.min_time >= mvt or head.min_time == INT64_MAX:
            return []
    return cut_ranges(head)[0]


def _series_chunks(head: Head, ref: int, lo: int, hi: int) -> BlockChunks:
    """Chunks of ``ref`` covering exactly its samples in ``[lo, hi)``.

    Caller holds the lock, and nothing of ``ref`` is staged (``block_series`` cut it).
    """
    whole: BlockChunks = []
    reencode = False
    for c in head.series_chunks(ref):
        if c[1] < lo or c[0] >= hi:
            continue
        if c[0] >= lo and c[1] < hi:
            whole.append(c)
        else:
            reencode = True
    whole.sort(key=lambda c: c[0])
    for prev, cur in itertools.pairwise(whole):
        if cur[0] <= prev[1]:
            reencode = True
    if not reencode:
        return whole
    ts, vs = head.series_samples(ref, lo, hi - 1, head.staging.sorted_view())
    if ts.shape[0] > 1:
        keep = np.ones(ts.shape[0], dtype=np.bool_)
        keep[1:] = ts[1:] != ts[:-1]
        ts, vs = ts[keep], vs[keep]
    return split_chunks(ts, vs, head.block_range_ms) if ts.shape[0] else []


def interleave(
    floats: BlockChunks, hists: list[HistChunk], range_ms: int
) -> list[ChunkMeta | HistChunk]:
    """A series' float and histogram chunks in time order, none overlapping another.

    A block's index needs each chunk to start after the previous one ends. When
    the series switched between floats and histograms inside a chunk's span,
    both kinds are decoded and cut again at every switch (as Prometheus's head
    cuts a chunk when the encoding changes); a histogram at the timestamp of a
    float is dropped (the head refuses such pairs unless out of order).
    """
    merged: list[ChunkMeta | HistChunk] = sorted([*floats, *hists], key=lambda c: c[0])
    if all(b[0] > a[1] for a, b in itertools.pairwise(merged)):
        return merged
    fts = [decode_chunk(c[2]) for c in floats]
    ft = np.concatenate([t for t, _ in fts]) if fts else np.empty(0, np.int64)
    fv = np.concatenate([v for _, v in fts]) if fts else np.empty(0, np.float64)
    order = np.argsort(ft, kind="stable")
    ft, fv = ft[order], fv[order]
    hts: list[int] = []
    hvs: list[Histogram] = []
    for c in sorted(hists, key=lambda c: c.mint):
        t, h = decode_histogram_chunk(c.data, c.encoding)
        hts.extend(t.tolist())
        hvs.extend(h)
    fset = set(ft.tolist())
    kept = [i for i, t in enumerate(hts) if t not in fset]
    hts, hvs = [hts[i] for i in kept], [hvs[i] for i in kept]
    out: list[ChunkMeta | HistChunk] = []
    # Runs of one kind between samples of the other.
    fi = hi = 0
    while fi < ft.shape[0] or hi < len(hts):
        if hi >= len(hts) or (fi < ft.shape[0] and int(ft[fi]) < hts[hi]):
            end = int(np.searchsorted(ft, hts[hi])) if hi < len(hts) else int(ft.shape[0])
            out.extend(split_chunks(ft[fi:end], fv[fi:end], range_ms))
            fi = end
        else:
            end = bisect.bisect_left(hts, int(ft[fi])) if fi < ft.shape[0] else len(hts)
            out.extend(chunk_histograms(hts[hi:end], hvs[hi:end], range_ms))
            hi = end
    return out


def block_series(head: Head, lo: int, hi: int, batch: int = 1024) -> Iterator[
    tuple[Labels, BlockChunks]
]:
    """Every series with samples in ``[lo, hi)``, in label order, with its chunks.

    A series' histogram chunks (``HistChunk``, 4-tuples carrying their encoding)
    follow its float chunks (3-tuples), all in time order.

    The head's lock is taken per batch of series, so queries are not held up for
    the whole cut; the caller must be the only appender (the ingester cuts on
    its append thread). Staged samples are first moved into the head's chunks.
    """
    with head.lock:
        head.cut_chunks()
        refs = head.refs_in_range(head.all_refs(), lo, hi - 1).tolist()
        refs.sort(key=head.labels.__getitem__)
    for i in range(0, len(refs), batch):
        with head.lock:
            out = []
            for ref in refs[i : i + batch]:
                chunks = _series_chunks(head, ref, lo, hi)
                hs = head.hists.get(ref)
                if hs is not None:
                    hchunks = hs.range_chunks(lo, hi, head.block_range_ms)
                    if hchunks:
                        chunks = interleave(chunks, hchunks, head.block_range_ms)
                if chunks:
                    out.append((head.labels[ref], chunks))
        yield from out
