"""Cutting one series' histogram samples into chunks by Prometheus's head rules.

A new chunk starts (as ``HistogramAppender.AppendHistogram`` and the head's
``histogramsAppendPreprocessor`` decide) when:

- the chunk would cross the end of its chunk range (the block range), or it
  has reached 1024 bytes while holding at least 10 histograms;
- the sample switches between integer and float histogram (encoding 2 / 3);
- a counter histogram follows a gauge one or the other way round;
- a counter histogram resets: explicit ``COUNTER_RESET`` hint, count, zero
  count or any bucket lower than in the previous sample, a bucket in use
  vanishing, or different custom bounds (header ``COUNTER_RESET``);
- the schema or zero threshold changes (header ``UNKNOWN``);
- a non-stale sample follows a stale marker.

New buckets do not cut: the chunk is re-encoded with the union of bucket
layouts (Prometheus's recoding), so chunks stay long and promtool reads them.
The counter-reset header of each new chunk is set as Prometheus sets it.
"""

from __future__ import annotations

from typing import NamedTuple

from tidewell.model.histogram import CUSTOM_BUCKETS_SCHEMA, CounterResetHint, Histogram
from tidewell.tsdb.block.chunking import range_end
from tidewell.tsdb.chunkenc.histogram import (
    ENCODING_FLOAT_HISTOGRAM,
    ENCODING_HISTOGRAM,
    HISTOGRAM_HEADER_SIZE,
    CounterResetHeader,
    Layout,
    chunk_bytes,
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

    __slots__ = ("chunk_range", "enc", "gauge", "header", "hists", "integer", "last", "layout",
                 "nidx", "pidx", "range_end", "ts")

    def __init__(self, chunk_range: int) -> None:
        self.chunk_range = int(chunk_range)
        self.enc = None
        self.ts: list[int] = []
        self.hists: list[Histogram] = []

    # -- state of the open chunk -----------------------------------------------

    @property
    def num_samples(self) -> int:
        return len(self.ts)

    @property
    def maxt(self) -> int | None:
        return self.ts[-1] if self.ts else None

    def open_chunk(self) -> HistChunk | None:
        """The open chunk as bytes (what the head holds now), or None."""
        if not self.ts:
            return None
        data = chunk_bytes(self.enc, self.header)
        return HistChunk(self.ts[0], self.ts[-1], self._encoding(), data)

    def flush(self) -> HistChunk | None:
        """Close the open chunk (if any) and return it."""
        c = self.open_chunk()
        self.enc = None
        self.ts, self.hists = [], []
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
        self.ts, self.hists = [], []
        self.range_end = range_end(t, self.chunk_range)
        self._add(t, h)

    def _add(self, t: int, h: Histogram) -> None:
        self.enc.add(t, h)
        self.ts.append(t)
        self.hists.append(h)
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
        ts, hists = self.ts, self.hists
        self.enc = new_encoder(self.integer, self.layout)
        self.ts, self.hists = [], []
        for t, old in zip(ts, hists, strict=True):
            self._add(t, old)

    # -- appending ----------------------------------------------------------------

    def append(self, t: int, h: Histogram) -> HistChunk | None:
        """Append ``h`` at ``t`` (after the open chunk's last sample); return a closed chunk."""
        if self.enc is None:
            hint = h.counter_reset_hint
            self.start(t, h, _H.COUNTER_RESET if hint == CounterResetHint.COUNTER_RESET
                        else _H.UNKNOWN)
            return None
        size = HISTOGRAM_HEADER_SIZE + self.enc.w.num_bytes
        if h.integer != self.integer or t >= self.range_end or (
            size >= TARGET_BYTES_PER_HISTOGRAM_CHUNK
            and len(self.ts) >= MIN_SAMPLES_PER_HISTOGRAM_CHUNK
        ):
            header = self._header_after(h)
            closed = self.flush()
            self.start(t, h, header)
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
