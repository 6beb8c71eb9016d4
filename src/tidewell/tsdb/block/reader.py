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
from tidewell.tsdb.block.meta import BlockMeta, read_meta
from tidewell.tsdb.chunkenc import ENCODING_XOR, CorruptBlockError, decode_xor_many
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

    def select(self, matchers: Sequence[Matcher]) -> list[Series]:
        if not self._overlaps():
            return []
        out = []
        shard, matchers = split_shard(matchers)
        refs = postings_for_matchers(self.block.index, matchers)
        if shard is not None:  # before any chunk is read
            index = self.block.index
            refs = [r for r in refs.tolist() if shard.owns(index.series(r).labels)]
        for ref in refs:
            labels, ts, vs, hists = self.block.series_data(int(ref), self.mint, self.maxt)
            if ts.shape[0] or hists is not None:
                out.append(Series(labels, ts, vs, histograms=hists))
        return out

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
