"""Native histogram samples of a head, per series ref, beside the float arena.

Histogram samples are rare next to floats, so they live in plain Python per
series: closed chunks (Prometheus's encodings 2 and 3, cut by
``HistogramChunkBuilder``), the open chunk's builder (which keeps the appended
``Histogram`` objects for reads), and out-of-order samples accepted within a
tenant's window, kept sorted apart and chunked when a block is cut. Floats
never touch this module, so their fast path is unchanged.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

import numpy as np

from tidewell.model.histogram import CounterResetHint, Histogram, HistogramSamples
from tidewell.tsdb.chunkenc.bitstream import float_bits, float_from_bits
from tidewell.tsdb.chunkenc.histogram import decode_histogram_chunk
from tidewell.tsdb.head.hist_chunks import HistChunk, HistogramChunkBuilder

__all__ = ["HistSeries", "HistogramStore", "chunk_histograms", "histogram_from_row",
           "histogram_row", "same_histogram"]


def histogram_row(h: Histogram) -> list[object]:
    """A JSON-safe list holding every field of ``h`` (the sum as its bits: NaN payloads)."""
    return [h.schema, h.zero_threshold, h.zero_count, h.count, float_bits(h.sum),
            [list(s) for s in h.positive_spans], list(h.positive_buckets),
            [list(s) for s in h.negative_spans], list(h.negative_buckets),
            int(h.counter_reset_hint), list(h.custom_values), h.integer]


def histogram_from_row(r: list) -> Histogram:  # type: ignore[type-arg]
    return Histogram(
        schema=r[0], zero_threshold=r[1], zero_count=r[2], count=r[3], sum=float_from_bits(r[4]),
        positive_spans=tuple((a, b) for a, b in r[5]), positive_buckets=tuple(r[6]),
        negative_spans=tuple((a, b) for a, b in r[7]), negative_buckets=tuple(r[8]),
        counter_reset_hint=CounterResetHint(r[9]), custom_values=tuple(r[10]), integer=r[11])


def same_histogram(a: Histogram, b: Histogram) -> bool:
    """Equal in every field, the sum compared by bits (stale markers are equal)."""
    return float_bits(a.sum) == float_bits(b.sum) and a == Histogram(
        **{f: getattr(b, f) for f in Histogram.__slots__ if f != "sum"}, sum=a.sum)


def chunk_histograms(ts: list[int], hs: list[Histogram], chunk_range: int) -> list[HistChunk]:
    """Sorted samples as chunks, cut by the head's rules."""
    b = HistogramChunkBuilder(chunk_range)
    out = []
    for t, h in zip(ts, hs, strict=True):
        c = b.append(t, h)
        if c is not None:
            out.append(c)
    last = b.flush()
    if last is not None:
        out.append(last)
    return out


class HistSeries:
    """One series' histogram samples."""

    __slots__ = ("builder", "closed", "ooo_h", "ooo_t")

    def __init__(self, chunk_range: int) -> None:
        self.builder = HistogramChunkBuilder(chunk_range)
        self.closed: list[HistChunk] = []
        self.ooo_t: list[int] = []
        self.ooo_h: list[Histogram] = []

    def append(self, t: int, h: Histogram) -> None:
        c = self.builder.append(t, h)
        if c is not None:
            self.closed.append(c)

    def insert_ooo(self, t: int, h: Histogram) -> None:
        i = bisect.bisect_left(self.ooo_t, t)
        self.ooo_t.insert(i, t)
        self.ooo_h.insert(i, h)

    def first_ts(self) -> int | None:
        cands = [c.mint for c in self.closed[:1]]
        if self.builder.num_samples:
            cands.append(self.builder.mint)
        if self.ooo_t:
            cands.append(self.ooo_t[0])
        return min(cands) if cands else None

    def samples(self, mint: int, maxt: int) -> tuple[list[int], list[Histogram]]:
        """Samples in ``[mint, maxt]``, sorted, unique (in-order copy wins)."""
        ts: list[int] = []
        hs: list[Histogram] = []
        for c in self.closed:
            if c.mint <= maxt and c.maxt >= mint:
                ct, ch = decode_histogram_chunk(c.data, c.encoding)
                ts.extend(ct.tolist())
                hs.extend(ch)
        b = self.builder
        if b.num_samples and b.mint <= maxt and b.maxt >= mint:
            bts, bhs = b.samples()
            ts.extend(bts)
            hs.extend(bhs)
        if self.ooo_t:
            ts.extend(self.ooo_t)
            hs.extend(self.ooo_h)
            order = sorted(range(len(ts)), key=ts.__getitem__)
            ts = [ts[i] for i in order]
            hs = [hs[i] for i in order]
        lo = bisect.bisect_left(ts, mint)
        hi = bisect.bisect_right(ts, maxt)
        return ts[lo:hi], hs[lo:hi]

    def value_at(self, t: int) -> Histogram | None:
        """The sample at ``t``, if any: the open chunk and OOO samples first (replays
        and retries hit them), closed chunks decoded only when ``t`` is older."""
        i = bisect.bisect_left(self.ooo_t, t)
        if i < len(self.ooo_t) and self.ooo_t[i] == t:
            return self.ooo_h[i]
        b = self.builder
        if b.num_samples and t >= b.mint:
            if t == b.maxt:
                return b.last
            if t > b.maxt:
                return None
            bts, bhs = b.samples()
            i = bisect.bisect_left(bts, t)
            return bhs[i] if i < len(bts) and bts[i] == t else None
        for c in self.closed:
            if c.mint <= t <= c.maxt:
                ct, ch = decode_histogram_chunk(c.data, c.encoding)
                i = int(np.searchsorted(ct, t))
                if i < ct.shape[0] and int(ct[i]) == t:
                    return ch[i]
        return None

    def range_indexes(self, width: int) -> set[int]:
        """``k`` of every aligned range ``[k*width, (k+1)*width)`` holding samples.

        In-order chunks never cross a range (the builder cuts there), so chunk
        bounds suffice; out-of-order samples are looked at one by one.
        """
        out = {c.mint // width for c in self.closed}
        out.update(c.maxt // width for c in self.closed)
        if self.builder.num_samples:
            out.update((self.builder.mint // width, self.builder.maxt // width))
        out.update(t // width for t in self.ooo_t)
        return out

    def range_chunks(self, lo: int, hi: int, chunk_range: int) -> list[HistChunk]:
        """Chunks holding exactly the samples in ``[lo, hi)``; whole chunks kept as they are."""
        if not self.ooo_t:
            chunks = list(self.closed)
            oc = self.builder.open_chunk()
            if oc is not None:
                chunks.append(oc)
            sel = [c for c in chunks if c.mint < hi and c.maxt >= lo]
            if all(c.mint >= lo and c.maxt < hi for c in sel):
                return sel
        ts, hs = self.samples(lo, hi - 1)
        return chunk_histograms(ts, hs, chunk_range) if ts else []

    def truncate(self, mint: int, chunk_range: int) -> None:
        """Drop samples before ``mint`` (re-encoding a chunk that straddles it)."""
        kept: list[HistChunk] = []
        for c in self.closed:
            if c.mint >= mint:
                kept.append(c)
            elif c.maxt >= mint:
                ct, ch = decode_histogram_chunk(c.data, c.encoding)
                i = int(np.searchsorted(ct, mint))
                kept.extend(chunk_histograms(ct[i:].tolist(), ch[i:], chunk_range))
        self.closed = kept
        b = self.builder
        if b.num_samples and b.mint < mint:
            c = b.flush()
            if c is not None and c.maxt >= mint:
                ct, ch = decode_histogram_chunk(c.data, c.encoding)
                i = int(np.searchsorted(ct, mint))
                self.closed.extend(chunk_histograms(ct[i:].tolist(), ch[i:], chunk_range))
        i = bisect.bisect_left(self.ooo_t, mint)
        del self.ooo_t[:i], self.ooo_h[:i]

    def open_state(self) -> dict[str, list]:  # type: ignore[type-arg]
        """The open chunk's end time and the out-of-order samples, JSON-safe (the
        chunks themselves are saved as bytes)."""
        b = self.builder
        return {"next_at": [b.next_at, int(b.computed_end)],
                "ooo_t": self.ooo_t, "ooo_h": [histogram_row(h) for h in self.ooo_h]}

    def load_open_state(self, st: dict[str, list], open_chunk: HistChunk | None) -> None:  # type: ignore[type-arg]
        """Rebuild what ``open_state`` and the saved open chunk describe."""
        if open_chunk is not None:
            self.builder.restore(open_chunk, st["next_at"][0], bool(st["next_at"][1]))
        self.ooo_t = list(st["ooo_t"])
        self.ooo_h = [histogram_from_row(r) for r in st["ooo_h"]]

    def num_samples(self) -> int:
        return (sum((c.data[0] << 8) | c.data[1] for c in self.closed)
                + self.builder.num_samples + len(self.ooo_t))

    def empty(self) -> bool:
        return not self.closed and not self.builder.num_samples and not self.ooo_t


class HistogramStore:
    """Ref → ``HistSeries``, only for series that ever had a histogram."""

    __slots__ = ("chunk_range", "series")

    def __init__(self, chunk_range: int) -> None:
        self.chunk_range = int(chunk_range)
        self.series: dict[int, HistSeries] = {}

    def get(self, ref: int) -> HistSeries | None:
        return self.series.get(ref)

    def get_or_create(self, ref: int) -> HistSeries:
        s = self.series.get(ref)
        if s is None:
            s = self.series[ref] = HistSeries(self.chunk_range)
        return s

    def histograms(self, ref: int, mint: int, maxt: int) -> HistogramSamples | None:
        s = self.series.get(ref)
        if s is None:
            return None
        ts, hs = s.samples(mint, maxt)
        if not ts:
            return None
        return HistogramSamples(np.array(ts, dtype=np.int64), hs)

    def items(self) -> Iterator[tuple[int, HistSeries]]:
        return iter(self.series.items())

    def truncate(self, mint: int) -> dict[int, int | None]:
        """Truncate every series; returns ref → its new first timestamp (None: empty, removed)."""
        out: dict[int, int | None] = {}
        for ref in list(self.series):
            s = self.series[ref]
            s.truncate(mint, self.chunk_range)
            if s.empty():
                del self.series[ref]
                out[ref] = None
            else:
                out[ref] = s.first_ts()
        return out

    def num_samples(self) -> int:
        return sum(s.num_samples() for s in self.series.values())
