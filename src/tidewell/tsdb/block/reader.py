"""Reads a block directory: meta.json, index and chunks, through mmap.

``BlockReader.querier(mint, maxt)`` returns a ``BlockQuerier`` implementing
``tidewell.model.Querier``: postings intersections pick the series, chunk
metadata in the index drops chunks outside the range, and only the chunks
needed are CRC-checked and decoded.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tidewell.model.histogram import Histogram, HistogramSamples
from tidewell.model.labels import Labels
from tidewell.model.matchers import Matcher
from tidewell.model.samples import Series
from tidewell.model.shard import split_shard
from tidewell.model.storage import SelectHints
from tidewell.tsdb.block.meta import BlockMeta, read_meta
from tidewell.tsdb.chunkenc import ENCODING_XOR, CorruptBlockError, decode_xor_many
from tidewell.tsdb.chunkenc.by_series import (
    chunk_sample_counts,
    decode_by_series,
    split_by_series,
)
from tidewell.tsdb.chunkenc.histogram import (
    ENCODING_FLOAT_HISTOGRAM,
    ENCODING_HISTOGRAM,
    decode_histogram_chunk,
)
from tidewell.tsdb.chunks import ChunkReader
from tidewell.tsdb.index import IndexReader, postings_for_matchers

__all__ = ["BlockQuerier", "BlockReader"]

_log = logging.getLogger("tidewell.tsdb.block")


class BlockReader:
    """An open block. Files are mapped on open; sections decode on demand."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.meta: BlockMeta = read_meta(self.path)
        self.index = IndexReader(self.path / "index")
        self.chunks = ChunkReader(self.path / "chunks")
        self._segments: dict[int, npt.NDArray[np.uint8]] = {}

    def querier(self, mint: int, maxt: int) -> BlockQuerier:
        """A querier over samples with ``mint <= t <= maxt``."""
        return BlockQuerier(self, mint, maxt)

    def _segment(self, seg: int) -> npt.NDArray[np.uint8]:
        arr = self._segments.get(seg)
        if arr is None:
            arr = np.frombuffer(self.chunks.segment_buffer(seg), dtype=np.uint8)
            self._segments[seg] = arr
        return arr

    def series_samples(
        self, ref: int, mint: int, maxt: int
    ) -> tuple[Labels, npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Labels and float samples in ``[mint, maxt]`` of series ``ref``."""
        labels, ts, vs, _ = self.series_data(ref, mint, maxt)
        return labels, ts, vs

    def series_data(
        self, ref: int, mint: int, maxt: int
    ) -> tuple[Labels, npt.NDArray[np.int64], npt.NDArray[np.float64],
               HistogramSamples | None]:
        """Labels, float samples and histogram samples in ``[mint, maxt]`` of series ``ref``."""
        s = self.index.series(ref)
        keep = np.flatnonzero((s.maxts >= mint) & (s.mints <= maxt))
        ts_parts: list[npt.NDArray[np.int64]] = []
        vs_parts: list[npt.NDArray[np.float64]] = []
        by_seg: dict[int, tuple[list[int], list[int], list[int]]] = {}
        hist_chunks: list[tuple[int, int, int, int]] = []
        for k in keep:
            cref = int(s.refs[k])
            seg, start, end, enc = self.chunks.locate(cref)
            if enc in (ENCODING_HISTOGRAM, ENCODING_FLOAT_HISTOGRAM):
                hist_chunks.append((seg, start, end, enc))
                continue
            if enc != ENCODING_XOR:
                _log.warning("skipping chunk with unsupported encoding %d in %s", enc, self.path)
                continue
            group = by_seg.setdefault(seg, ([], [], []))
            group[0].append(start)
            group[1].append(end)
            group[2].append(cref)
        for seg, (starts, ends, crefs) in by_seg.items():
            ts, vs, bad = decode_xor_many(
                self._segment(seg), np.array(starts, np.int64), np.array(ends, np.int64)
            )
            if bad >= 0:
                raise CorruptBlockError(
                    f"XOR chunk does not decode (series {s.labels})",
                    str(self.chunks.segments[seg]),
                    crefs[bad] & 0xFFFFFFFF,
                )
            ts_parts.append(ts)
            vs_parts.append(vs)
        hists = self._histograms(hist_chunks, mint, maxt) if hist_chunks else None
        if not ts_parts:
            return s.labels, np.empty(0, np.int64), np.empty(0, np.float64), hists
        ts = ts_parts[0] if len(ts_parts) == 1 else np.concatenate(ts_parts)
        vs = vs_parts[0] if len(vs_parts) == 1 else np.concatenate(vs_parts)
        if len(ts_parts) > 1:
            order = np.argsort(ts, kind="stable")
            ts, vs = ts[order], vs[order]
        if ts.shape[0] and (ts[0] < mint or ts[-1] > maxt):
            sel = (ts >= mint) & (ts <= maxt)
            ts, vs = ts[sel], vs[sel]
        return s.labels, ts, vs, hists

    def _histograms(
        self, chunks: list[tuple[int, int, int, int]], mint: int, maxt: int
    ) -> HistogramSamples | None:
        """Decode histogram chunks; samples in ``[mint, maxt]``, sorted, first copy wins."""
        ts: list[int] = []
        hs: list[Histogram] = []
        for seg, start, end, enc in chunks:
            ct, ch = decode_histogram_chunk(self._segment(seg)[start:end].tobytes(), enc)
            ts.extend(ct.tolist())
            hs.extend(ch)
        order = sorted(range(len(ts)), key=ts.__getitem__)
        keep = [i for n, i in enumerate(order)
                if mint <= ts[i] <= maxt and (n == 0 or ts[order[n - 1]] != ts[i])]
        if not keep:
            return None
        return HistogramSamples(np.array([ts[i] for i in keep], dtype=np.int64),
                                [hs[i] for i in keep])

    def select(self, matchers: Sequence[Matcher], mint: int, maxt: int,
               hints: SelectHints | None = None) -> list[Series]:
        """Series matching ``matchers`` with samples in ``[mint, maxt]``, in label order.

        Series entries and chunk records are checked and parsed in compiled passes and
        every XOR chunk of a segment decoded in one call (``chunkenc.by_series``).
        """
        hints = hints or SelectHints()
        shard, matchers = split_shard(matchers)
        refs = np.asarray(postings_for_matchers(self.index, matchers), dtype=np.int64)
        if refs.shape[0] == 0:
            return []
        if shard is None:
            hints.check(int(refs.shape[0]))
        series = self.index.series_batch(refs)
        if shard is not None:  # before any chunk is read
            series = [s for s in series if shard.owns(s.labels)]
            if not series:
                return []
            hints.check(len(series))
        n = len(series)
        per = np.fromiter((s.refs.shape[0] for s in series), np.int64, n)
        if int(per.sum()) == 0:
            return []
        mints = np.concatenate([s.mints for s in series])
        maxts = np.concatenate([s.maxts for s in series])
        crefs = np.concatenate([s.refs for s in series])
        owner = np.repeat(np.arange(n, dtype=np.int64), per)
        keep = np.flatnonzero((maxts >= mint) & (mints <= maxt))
        inside = (mints[keep] >= mint) & (maxts[keep] <= maxt)
        owner, crefs = owner[keep], crefs[keep]
        segs, starts, ends, encs = self.chunks.locate_many(crefs)
        if hints.counts_samples:
            xor_inside = inside & (encs == ENCODING_XOR)
            hints.check(n, sum(
                int(chunk_sample_counts(self.chunks.segment_array(seg),
                                        starts[xor_inside & (segs == seg)]).sum())
                for seg in np.unique(segs[xor_inside]).tolist()))
        hists: dict[int, HistogramSamples] = {}
        hist = np.flatnonzero((encs == ENCODING_HISTOGRAM) | (encs == ENCODING_FLOAT_HISTOGRAM))
        if hist.shape[0]:
            by_owner: dict[int, list[tuple[int, int, int, int]]] = {}
            for k in hist.tolist():
                by_owner.setdefault(int(owner[k]), []).append(
                    (int(segs[k]), int(starts[k]), int(ends[k]), int(encs[k])))
            for o, chunks in by_owner.items():
                h = self._histograms(chunks, mint, maxt)
                if h is not None:
                    hists[o] = h
        xor = encs == ENCODING_XOR
        if not bool((xor | (encs == ENCODING_HISTOGRAM)
                     | (encs == ENCODING_FLOAT_HISTOGRAM)).all()):
            _log.warning("skipping chunks with unsupported encodings in %s", self.path)
        ts, vs, counts = self._decode_xor(segs[xor], starts[xor], ends[xor], owner[xor], n,
                                          mint, maxt, series)
        ts_parts, vs_parts = split_by_series(ts, vs, counts)
        return [Series(series[i].labels, ts_parts[i], vs_parts[i], histograms=hists.get(i))
                for i in range(n) if counts[i] or i in hists]

    def _decode_xor(
        self, segs: npt.NDArray[np.int64], starts: npt.NDArray[np.int64],
        ends: npt.NDArray[np.int64], owner: npt.NDArray[np.int64], n: int, mint: int,
        maxt: int, series: Sequence[object],
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
        """XOR chunks (ordered by owner) decoded per segment, flat in owner order."""
        parts = []
        for seg in np.unique(segs).tolist():
            sel = np.flatnonzero(segs == seg)
            ts, vs, counts, bad = decode_by_series(self.chunks.segment_array(seg), owner[sel],
                                                   starts[sel], ends[sel], n, mint, maxt)
            if bad >= 0:
                raise CorruptBlockError(
                    f"XOR chunk does not decode (series {series[int(owner[sel][bad])]})",
                    str(self.chunks.segments[seg]))
            parts.append((ts, vs, counts))
        if not parts:
            return np.empty(0, np.int64), np.empty(0, np.float64), np.zeros(n, np.int64)
        if len(parts) == 1:
            return parts[0]
        ts = np.concatenate([p[0] for p in parts])
        vs = np.concatenate([p[1] for p in parts])
        own = np.concatenate([np.repeat(np.arange(n), p[2]) for p in parts])
        order = np.argsort(own, kind="stable")
        return ts[order], vs[order], sum(p[2] for p in parts)

    def close(self) -> None:
        self._segments.clear()
        self.index.close()
        self.chunks.close()

    def __enter__(self) -> BlockReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BlockQuerier:
    """``tidewell.model.Querier`` over one block and an inclusive time range."""

    def __init__(self, block: BlockReader, mint: int, maxt: int):
        self.block = block
        self.mint = mint
        self.maxt = maxt

    def _overlaps(self) -> bool:
        m = self.block.meta
        return self.mint < m.max_time and self.maxt >= m.min_time

    def select(self, matchers: Sequence[Matcher],
               hints: SelectHints | None = None) -> list[Series]:
        if not self._overlaps():
            return []
        return self.block.select(matchers, self.mint, self.maxt, hints)

    def _series_labels(self, matchers: Sequence[Matcher]) -> list[Labels]:
        return [
            self.block.index.series(int(r)).labels
            for r in postings_for_matchers(self.block.index, matchers)
        ]

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        if not self._overlaps():
            return []
        if not matchers:
            return self.block.index.label_names()
        names = {n for labels in self._series_labels(matchers) for n, _ in labels}
        return sorted(names)

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        if not self._overlaps():
            return []
        if not matchers:
            return self.block.index.label_values(name)
        values = {labels.get(name) for labels in self._series_labels(matchers)}
        values.discard("")
        return sorted(values)
