"""Cutting one series' histogram samples into chunks by Prometheus's head rules.

A new chunk starts (as ``HistogramAppender.AppendHistogram`` and the head's
``histogramsAppendPreprocessor`` decide) when:

- its size says so, by the head's rule: a chunk ends at the end of its chunk
  range (the block range); once it holds 256 bytes (a quarter of the 1024-byte
  target) its end time is predicted so that the rest of the range splits into
  chunks of about 1024 bytes; it is cut early at 2048 bytes; and it is never
  cut for size before it holds 10 histograms unless the range ends;
- the sample switches between integer and float histogram (encoding 2 / 3);
- a counter histogram follows a gauge one or the other way round;
- a counter histogram resets: explicit ``COUNTER_RESET`` hint, count, zero
  count or any bucket lower than in the previous sample, a bucket in use
  vanishing, or different custom bounds (header ``COUNTER_RESET``);
- the schema or zero threshold changes (header ``UNKNOWN``);
- a non-stale sample follows a stale marker.

New buckets do not cut: the chunk is re-encoded with the union of bucket
layouts (Prometheus's recoding: decode, re-encode), so chunks stay long and
promtool reads them. The counter-reset header of each new chunk is set as
Prometheus sets it.

Memory: the open chunk is kept only encoded (about 23 bytes per 20-bucket
sample) plus the last sample, which the counter-reset checks compare with;
reads decode it, as they decode closed chunks.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from tidewell.model.histogram import CUSTOM_BUCKETS_SCHEMA, CounterResetHint, Histogram
from tidewell.tsdb.block.chunking import range_end
from tidewell.tsdb.chunkenc.histogram import (
    ENCODING_FLOAT_HISTOGRAM,
    ENCODING_HISTOGRAM,
    HISTOGRAM_HEADER_SIZE,
    CounterResetHeader,
    HistogramEncoder,
    Layout,
    chunk_bytes,
    chunk_counter_reset_header,
    decode_histogram_chunk,
    indices_spans,
    is_stale_histogram,
    layout_of,
    new_encoder,
    span_indices,
)

__all__ = [
    "MIN_SAMPLES_PER_HISTOGRAM_CHUNK",
    "TARGET_BYTES_PER_HISTOGRAM_CHUNK",
    "HistChunk",
    "HistogramChunkBuilder",
]

TARGET_BYTES_PER_HISTOGRAM_CHUNK = 1024
MIN_SAMPLES_PER_HISTOGRAM_CHUNK = 10

_H = CounterResetHeader


class HistChunk(NamedTuple):
    """A histogram chunk: time range, encoding (2 or 3) and bytes.

    A 4-tuple, where float chunks are 3-tuples ``(mint, maxt, data)``: block
    writers tell them apart by length.
    """

    mint: int
    maxt: int
    encoding: int
    data: bytes


def _abs(spans: tuple, buckets: tuple) -> dict[int, float]:
    return dict(zip(span_indices(spans), buckets, strict=True))


class HistogramChunkBuilder:
    """One series' open histogram chunk; ``append`` returns chunks it closes."""

    __slots__ = ("chunk_range", "computed_end", "enc", "gauge", "header", "integer", "last",
                 "layout", "maxt", "mint", "next_at", "nidx", "pidx")

    def __init__(self, chunk_range: int) -> None:
        self.chunk_range = int(chunk_range)
        self.next_at = 0
        """When the open chunk ends (``memSeries.nextAt``)."""
        self.computed_end = False
        """Whether ``next_at`` was predicted from the chunk's fill (kept across cuts
        that are not for size, as Prometheus keeps ``histogramChunkHasComputedEndTime``)."""
        self.enc: HistogramEncoder | None = None
        self.mint = self.maxt = 0

    # -- state of the open chunk -----------------------------------------------

    @property
    def num_samples(self) -> int:
        return self.enc.n if self.enc is not None else 0

    def open_chunk(self) -> HistChunk | None:
        """The open chunk as bytes (what the head holds now), or None."""
        if self.enc is None:
            return None
        data = chunk_bytes(self.enc, self.header)
        return HistChunk(self.mint, self.maxt, self._encoding(), data)

    def samples(self) -> tuple[list[int], list[Histogram]]:
        """The open chunk's samples, decoded."""
        c = self.open_chunk()
        if c is None:
            return [], []
        ts, hs = decode_histogram_chunk(c.data, c.encoding)
        return ts.tolist(), hs

    def flush(self) -> HistChunk | None:
        """Close the open chunk (if any) and return it."""
        c = self.open_chunk()
        self.enc = None
        return c

    def _encoding(self) -> int:
        return ENCODING_HISTOGRAM if self.integer else ENCODING_FLOAT_HISTOGRAM

    def start(self, t: int, h: Histogram, header: CounterResetHeader) -> None:
        """Open a new chunk with ``h`` as its first sample (the open one must be flushed)."""
        self.integer = h.integer
        self.gauge = h.counter_reset_hint == CounterResetHint.GAUGE
        self.header = _H.GAUGE if self.gauge else header
        self.layout = layout_of(h)
        self.pidx = span_indices(self.layout.positive_spans)
        self.nidx = span_indices(self.layout.negative_spans)
        self.enc = new_encoder(h.integer, self.layout)
        self.mint = t
        self.next_at = range_end(t, self.chunk_range)
        self._add(t, h)

    def restore(self, chunk: HistChunk, next_at: int, computed_end: bool) -> None:
        """Re-open a saved open chunk: the same bytes, header, layout and end time."""
        ts, hs = decode_histogram_chunk(chunk.data, chunk.encoding)
        self.start(int(ts[0]), hs[0], chunk_counter_reset_header(chunk.data))
        for t, h in zip(ts[1:].tolist(), hs[1:], strict=True):
            self._add(t, h)
        self.next_at, self.computed_end = next_at, computed_end

    def _add(self, t: int, h: Histogram) -> None:
        self.enc.add(t, h)
        self.maxt = t
        self.last = h

    # -- rules ------------------------------------------------------------------

    def _counter_check(self, h: Histogram) -> tuple[bool, CounterResetHeader]:
        """Prometheus's ``appendable`` for a counter histogram: (ok, header hint)."""
        if self.gauge:
            return False, _H.NOT_COUNTER_RESET
        if h.counter_reset_hint == CounterResetHint.COUNTER_RESET:
            return False, _H.COUNTER_RESET
        if is_stale_histogram(h):
            return True, _H.NOT_COUNTER_RESET
        last = self.last
        if is_stale_histogram(last):
            return False, _H.UNKNOWN
        if h.count < last.count:
            return False, _H.COUNTER_RESET
        if h.schema != self.layout.schema or h.zero_threshold != self.layout.zero_threshold:
            return False, _H.UNKNOWN
        if not self._same_bounds(h):
            return False, _H.COUNTER_RESET
        if h.zero_count < last.zero_count:
            return False, _H.COUNTER_RESET
        for spans_b, b_b, spans_a, b_a in (
            (h.positive_spans, h.positive_buckets, last.positive_spans, last.positive_buckets),
            (h.negative_spans, h.negative_buckets, last.negative_spans, last.negative_buckets),
        ):
            if spans_a == spans_b:  # the common case: same layout as the previous sample
                if any(a > b for a, b in zip(b_a, b_b, strict=True)):
                    return False, _H.COUNTER_RESET
                continue
            new = _abs(spans_b, b_b)
            for idx, c in _abs(spans_a, b_a).items():
                if c > new.get(idx, 0.0):
                    return False, _H.COUNTER_RESET
        return True, _H.NOT_COUNTER_RESET

    def _gauge_check(self, h: Histogram) -> bool:
        """Prometheus's ``appendableGauge``."""
        if not self.gauge:
            return False
        if is_stale_histogram(h):
            return True
        if is_stale_histogram(self.last):
            return False
        if h.schema != self.layout.schema or h.zero_threshold != self.layout.zero_threshold:
            return False
        return self._same_bounds(h)

    def _same_bounds(self, h: Histogram) -> bool:
        """Custom-bucket histograms share a chunk only with the same bounds."""
        bounds = self.layout.custom_values
        return h.schema != CUSTOM_BUCKETS_SCHEMA or tuple(h.custom_values) == bounds

    def _header_after(self, h: Histogram) -> CounterResetHeader:
        """Header of a chunk cut for size whose first sample is ``h`` (``prev`` given)."""
        if h.counter_reset_hint == CounterResetHint.GAUGE:
            return _H.GAUGE
        if h.counter_reset_hint == CounterResetHint.COUNTER_RESET:
            return _H.COUNTER_RESET
        if h.integer != self.integer:
            return _H.UNKNOWN  # the previous appender is of another kind
        _, hint = self._counter_check(h)
        if not self.integer and hint != _H.COUNTER_RESET:
            return _H.NOT_COUNTER_RESET
        return hint

    def _recode_for(self, h: Histogram) -> None:
        """Widen the chunk's layout to also hold ``h``'s buckets, re-encoding it if needed."""
        if is_stale_histogram(h) or (h.positive_spans == self.layout.positive_spans
                                     and h.negative_spans == self.layout.negative_spans):
            return
        pos = set(span_indices(h.positive_spans))
        neg = set(span_indices(h.negative_spans))
        if pos.issubset(self.pidx) and neg.issubset(self.nidx):
            return
        self.pidx = sorted(pos.union(self.pidx))
        self.nidx = sorted(neg.union(self.nidx))
        lay = self.layout
        self.layout = Layout(lay.schema, lay.zero_threshold, indices_spans(self.pidx),
                             indices_spans(self.nidx), lay.custom_values)
        ts, hists = self.samples()
        enc = new_encoder(self.integer, self.layout)
        for t, old in zip(ts, hists, strict=True):
            enc.add(t, old)
        self.enc = enc

    # -- appending ----------------------------------------------------------------

    def append(self, t: int, h: Histogram) -> HistChunk | None:
        """Append ``h`` at ``t`` (after the open chunk's last sample); return a closed chunk."""
        if self.enc is None:
            hint = h.counter_reset_hint
            self.start(t, h, _H.COUNTER_RESET if hint == CounterResetHint.COUNTER_RESET
                       else _H.UNKNOWN)
            self.computed_end = False
            return None
        if h.integer != self.integer or self._size_cut(t):
            header = self._header_after(h)
            closed = self.flush()
            self.start(t, h, header)
            self.computed_end = False
            return closed
        if h.counter_reset_hint == CounterResetHint.GAUGE:
            ok, header = self._gauge_check(h), _H.GAUGE
        else:
            ok, header = self._counter_check(h)
            if not self.integer and header != _H.COUNTER_RESET:
                header = _H.UNKNOWN
        if not ok:
            closed = self.flush()
            self.start(t, h, header)
            return closed
        self._recode_for(h)
        self._add(t, h)
        return None

    def _size_cut(self, t: int) -> bool:
        """``histogramsAppendPreprocessor``: whether the open chunk ends before ``t``."""
        nbytes = HISTOGRAM_HEADER_SIZE + self.enc.w.num_bytes
        mint = self.mint
        next_range_start = range_end(mint, self.chunk_range) if self.computed_end else self.next_at
        if not self.computed_end and nbytes >= TARGET_BYTES_PER_HISTOGRAM_CHUNK // 4:
            self.next_at = _chunk_end(mint, self.maxt, self.next_at,
                                      TARGET_BYTES_PER_HISTOGRAM_CHUNK / nbytes)
            self.computed_end = True
        return (t >= self.next_at or nbytes >= 2 * TARGET_BYTES_PER_HISTOGRAM_CHUNK) and (
            self.enc.n >= MIN_SAMPLES_PER_HISTOGRAM_CHUNK or t >= next_range_start)


def _chunk_end(start: int, cur: int, max_t: int, ratio_to_full: float) -> int:
    """``computeChunkEndTime``: an end splitting the rest of the range into equal chunks."""
    n = (max_t - start) / ((cur - start + 1) * ratio_to_full)
    if n <= 1:
        return max_t
    return int(float(start) + (max_t - start) / math.floor(n))
