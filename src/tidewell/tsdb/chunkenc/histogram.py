"""Histogram (encoding 2) and float-histogram (encoding 3) chunks, as Prometheus stores them.

Byte layout as Prometheus's ``chunkenc/histogram.go`` and ``float_histogram.go``:
a 2-byte big-endian sample count, one header byte whose top two bits are the
counter-reset header (``CounterResetHeader``), then a bit stream: the chunk
layout (zero threshold, schema, positive and negative spans, custom bounds for
schema -53), then per sample

    field →   ts    count zeroCount sum  buckets
    integer:  raw / delta / dod for ts, count, zeroCount and each bucket; sum XOR
    float:    ts as above; count, zeroCount, sum and each bucket XOR'd

Integer buckets are stored as Prometheus holds them: each bucket's count
minus the previous bucket's. Every sample of a chunk uses the chunk's layout;
a sample with fewer buckets is written with zeros in the missing ones, and a
sample bringing new buckets makes the chunk be re-encoded with the union
layout (what Prometheus calls recoding), so decoded samples may carry extra
empty buckets. A stale marker (sum = stale NaN) is written without buckets.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tidewell.model.histogram import CUSTOM_BUCKETS_SCHEMA, CounterResetHint, Histogram, Span
from tidewell.model.samples import STALE_NAN_BITS
from tidewell.tsdb.chunkenc.bitstream import (
    BitReader,
    BitWriter,
    float_bits,
    float_from_bits,
    frexp_exponent_if_power_of_two,
)
from tidewell.tsdb.chunkenc.errors import CorruptChunkError
from tidewell.tsdb.chunkenc.xor import backend

__all__ = [
    "ENCODING_FLOAT_HISTOGRAM",
    "ENCODING_HISTOGRAM",
    "HISTOGRAM_HEADER_SIZE",
    "CounterResetHeader",
    "HistogramEncoder",
    "Layout",
    "chunk_bytes",
    "chunk_counter_reset_header",
    "decode_histogram_chunk",
    "encode_histogram_chunk",
    "indices_spans",
    "is_stale_histogram",
    "layout_of",
    "new_encoder",
    "span_indices",
]

ENCODING_HISTOGRAM = 2
"""``chunkenc.EncHistogram``: integer counts."""
ENCODING_FLOAT_HISTOGRAM = 3
"""``chunkenc.EncFloatHistogram``: float counts."""
HISTOGRAM_HEADER_SIZE = 3
_STALE_SUM = float_from_bits(STALE_NAN_BITS)


class CounterResetHeader(enum.IntEnum):
    """Top two bits of the chunk's third byte (value shown shifted down by 6)."""

    UNKNOWN = 0b00
    NOT_COUNTER_RESET = 0b01
    COUNTER_RESET = 0b10
    GAUGE = 0b11


def is_stale_histogram(h: Histogram) -> bool:
    """A staleness marker: the sum carries the stale-NaN bits."""
    return math.isnan(h.sum) and float_bits(h.sum) == STALE_NAN_BITS


def chunk_counter_reset_header(data: bytes | memoryview) -> CounterResetHeader:
    if len(data) < HISTOGRAM_HEADER_SIZE:
        raise CorruptChunkError("histogram chunk shorter than its 3-byte header")
    return CounterResetHeader(data[2] >> 6)


# -- layouts -------------------------------------------------------------------


def span_indices(spans: Sequence[Span]) -> list[int]:
    """Absolute bucket indices the spans cover, in order."""
    out: list[int] = []
    idx = 0
    for offset, length in spans:
        idx += offset
        for _ in range(length):
            out.append(idx)
            idx += 1
    return out


def indices_spans(indices: Sequence[int]) -> tuple[Span, ...]:
    """Canonical spans covering sorted unique ``indices``."""
    spans: list[list[int]] = []
    last = 0
    for b in indices:
        if spans and b == last + 1:
            spans[-1][1] += 1
        else:
            spans.append([b if not spans else b - last - 1, 1])
        last = b
    return tuple((o, n) for o, n in spans)


@dataclass(frozen=True, slots=True)
class Layout:
    """What the first sample of a chunk writes once: all samples share it."""

    schema: int
    zero_threshold: float
    positive_spans: tuple[Span, ...]
    negative_spans: tuple[Span, ...]
    custom_values: tuple[float, ...]

    def positive_indices(self) -> list[int]:
        return span_indices(self.positive_spans)

    def negative_indices(self) -> list[int]:
        return span_indices(self.negative_spans)


def layout_of(h: Histogram) -> Layout:
    if is_stale_histogram(h):
        return Layout(0, 0.0, (), (), ())
    return Layout(h.schema, h.zero_threshold, tuple(h.positive_spans),
                  tuple(h.negative_spans), tuple(h.custom_values))


def _expand(spans: Sequence[Span], buckets: Sequence[float], to: Sequence[int],
            to_spans: Sequence[Span]) -> Sequence[float]:
    """``buckets`` (laid out by ``spans``) placed on the indices ``to`` (laid out by
    ``to_spans``), zeros where ``buckets`` has none."""
    if spans == to_spans:
        return buckets
    got = dict(zip(span_indices(spans), buckets, strict=True))
    return [got.get(i, 0.0) for i in to]


def _write_zero_threshold(w: BitWriter, zt: float) -> None:
    if zt == 0:
        w.write(0, 8)
        return
    exp = frexp_exponent_if_power_of_two(zt)
    if exp is None or exp < -242 or exp > 11:
        w.write(255, 8)
        w.write(float_bits(zt), 64)
        return
    w.write(exp + 243, 8)


def _read_zero_threshold(r: BitReader) -> float:
    b = r.read(8)
    if b == 0:
        return 0.0
    if b == 255:
        return float_from_bits(r.read(64))
    return math.ldexp(0.5, b - 243)


def _write_custom_bound(w: BitWriter, f: float) -> None:
    tf = f * 1000
    whole = math.isfinite(f) and tf >= 0 and math.floor(tf + 0.5) / 1000 == f
    if not whole or tf > 33554430:
        w.write_bit(0)
        w.write(float_bits(f), 64)
        return
    w.varbit_uint(math.floor(tf + 0.5) + 1)


def _read_custom_bound(r: BitReader) -> float:
    b = r.varbit_uint()
    if b == 0:
        return float_from_bits(r.read(64))
    return (b - 1) / 1000


def _write_spans(w: BitWriter, spans: Sequence[Span]) -> None:
    w.varbit_uint(len(spans))
    for offset, length in spans:
        w.varbit_uint(length)
        w.varbit_int(offset)


def _read_spans(r: BitReader) -> tuple[Span, ...]:
    out = []
    total = 0
    for _ in range(r.varbit_uint()):
        length = r.varbit_uint()
        total += length
        if total > r.nbits:  # every bucket takes at least a bit: garbage, not a layout
            raise CorruptChunkError(f"histogram chunk layout claims {total} buckets")
        out.append((r.varbit_int(), length))
    return tuple(out)


def _write_layout(w: BitWriter, lay: Layout) -> None:
    _write_zero_threshold(w, lay.zero_threshold)
    w.varbit_int(lay.schema)
    _write_spans(w, lay.positive_spans)
    _write_spans(w, lay.negative_spans)
    if lay.schema == CUSTOM_BUCKETS_SCHEMA:
        w.varbit_uint(len(lay.custom_values))
        for b in lay.custom_values:
            _write_custom_bound(w, b)


def _read_layout(r: BitReader) -> Layout:
    zt = _read_zero_threshold(r)
    schema = r.varbit_int()
    if not (-4 <= schema <= 8 or schema == CUSTOM_BUCKETS_SCHEMA):
        raise CorruptChunkError(f"histogram chunk has unknown schema {schema}")
    pos = _read_spans(r)
    neg = _read_spans(r)
    custom: tuple[float, ...] = ()
    if schema == CUSTOM_BUCKETS_SCHEMA:
        custom = tuple(_read_custom_bound(r) for _ in range(r.varbit_uint()))
    return Layout(schema, zt, pos, neg, custom)


# -- encoders --------------------------------------------------------------------


def _deltas(counts: Sequence[float]) -> list[int]:
    """Absolute counts → Prometheus's integer bucket form (each minus the one before)."""
    ints = [int(c) for c in counts]
    return [b - a for a, b in zip([0, *ints], ints, strict=False)]


class _IntEncoder:
    """``HistogramAppender.appendHistogram`` state for one chunk."""

    def __init__(self, w: BitWriter, lay: Layout) -> None:
        self.w = w
        self.lay = lay
        self.pidx = lay.positive_indices()
        self.nidx = lay.negative_indices()
        self.n = 0
        self.t = self.t_delta = 0
        self.cnt = self.cnt_delta = self.zcnt = self.zcnt_delta = 0
        self.pb = [0] * len(self.pidx)
        self.pbd = [0] * len(self.pidx)
        self.nb = [0] * len(self.nidx)
        self.nbd = [0] * len(self.nidx)
        self.sum = [0, 0xFF, 0]

    def add(self, t: int, h: Histogram) -> None:
        w = self.w
        stale = is_stale_histogram(h)
        cnt = 0 if stale else int(h.count)
        zcnt = 0 if stale else int(h.zero_count)
        lay = self.lay
        pb = [] if stale else _deltas(_expand(h.positive_spans, h.positive_buckets, self.pidx,
                                              lay.positive_spans))
        nb = [] if stale else _deltas(_expand(h.negative_spans, h.negative_buckets, self.nidx,
                                              lay.negative_spans))
        if self.n == 0:
            _write_layout(w, self.lay)
            w.varbit_int(t)
            w.varbit_uint(cnt)
            w.varbit_uint(zcnt)
            self.sum[0] = float_bits(h.sum)
            w.write(self.sum[0], 64)
            for b in pb:
                w.varbit_int(b)
            for b in nb:
                w.varbit_int(b)
            t_delta = cnt_delta = zcnt_delta = 0
        else:
            t_delta = t - self.t
            cnt_delta = cnt - self.cnt
            zcnt_delta = zcnt - self.zcnt
            w.varbit_int(t_delta - self.t_delta)
            w.varbit_int(0 if stale else cnt_delta - self.cnt_delta)
            w.varbit_int(0 if stale else zcnt_delta - self.zcnt_delta)
            w.xor_float(h.sum, self.sum)
            if pb:  # a stale marker has no buckets and leaves their state alone
                pbd = [b - s for b, s in zip(pb, self.pb, strict=True)]
                w.varbit_ints([d - o for d, o in zip(pbd, self.pbd, strict=True)])
                self.pbd = pbd
            if nb:
                nbd = [b - s for b, s in zip(nb, self.nb, strict=True)]
                w.varbit_ints([d - o for d, o in zip(nbd, self.nbd, strict=True)])
                self.nbd = nbd
        self.t, self.t_delta = t, t_delta
        self.cnt, self.cnt_delta = cnt, cnt_delta
        self.zcnt, self.zcnt_delta = zcnt, zcnt_delta
        if pb:
            self.pb = pb
        if nb:
            self.nb = nb
        self.n += 1


class _FloatEncoder:
    """``FloatHistogramAppender.appendFloatHistogram`` state for one chunk."""

    def __init__(self, w: BitWriter, lay: Layout) -> None:
        self.w = w
        self.lay = lay
        self.pidx = lay.positive_indices()
        self.nidx = lay.negative_indices()
        self.n = 0
        self.t = self.t_delta = 0
        self.cnt = [0, 0xFF, 0]
        self.zcnt = [0, 0xFF, 0]
        self.sum = [0, 0xFF, 0]
        self.pb = [[0, 0xFF, 0] for _ in self.pidx]
        self.nb = [[0, 0xFF, 0] for _ in self.nidx]

    def add(self, t: int, h: Histogram) -> None:
        w = self.w
        stale = is_stale_histogram(h)
        cnt = 0.0 if stale else float(h.count)
        zcnt = 0.0 if stale else float(h.zero_count)
        lay = self.lay
        pb = [] if stale else _expand(h.positive_spans, h.positive_buckets, self.pidx,
                                      lay.positive_spans)
        nb = [] if stale else _expand(h.negative_spans, h.negative_buckets, self.nidx,
                                      lay.negative_spans)
        if self.n == 0:
            _write_layout(w, self.lay)
            w.varbit_int(t)
            for state, v in ((self.cnt, cnt), (self.zcnt, zcnt), (self.sum, h.sum)):
                state[0] = float_bits(v)
                w.write(state[0], 64)
            for states, vals in ((self.pb, pb), (self.nb, nb)):
                for state, v in zip(states, vals, strict=False):
                    state[0] = float_bits(v)
                    w.write(state[0], 64)
            t_delta = 0
        else:
            t_delta = t - self.t
            w.varbit_int(t_delta - self.t_delta)
            w.xor_float(cnt, self.cnt)
            w.xor_float(zcnt, self.zcnt)
            w.xor_float(h.sum, self.sum)
            for states, vals in ((self.pb, pb), (self.nb, nb)):
                for state, v in zip(states, vals, strict=False):
                    w.xor_float(v, state)
        self.t, self.t_delta = t, t_delta
        self.n += 1


HistogramEncoder = _IntEncoder | _FloatEncoder
"""The encoder state of one open chunk (integer or float counts)."""


def new_encoder(integer: bool, lay: Layout) -> HistogramEncoder:
    """A fresh encoder writing into its own ``BitWriter`` (``.w``)."""
    w = BitWriter()
    return _IntEncoder(w, lay) if integer else _FloatEncoder(w, lay)


def chunk_bytes(enc: HistogramEncoder, header: CounterResetHeader) -> bytes:
    """The encoder's chunk: count, header byte, bit stream."""
    return bytes((enc.n >> 8, enc.n & 0xFF, int(header) << 6)) + enc.w.bytes()


def encode_histogram_chunk(
    timestamps: Sequence[int] | npt.NDArray[np.int64],
    histograms: Sequence[Histogram],
    *,
    integer: bool,
    header: CounterResetHeader = CounterResetHeader.UNKNOWN,
    layout: Layout | None = None,
) -> bytes:
    """One chunk holding all ``histograms`` (caller checked they may share one chunk).

    ``layout`` defaults to the first sample's; every sample's buckets must lie
    within it (``HistogramChunkBuilder`` computes the union when they do not).
    """
    if not histograms:
        raise ValueError("a histogram chunk needs at least one sample")
    if len(histograms) > 0xFFFF:
        raise ValueError("a chunk holds at most 65535 samples")
    enc = new_encoder(integer, layout or layout_of(histograms[0]))
    for t, h in zip(np.asarray(timestamps, dtype=np.int64).tolist(), histograms, strict=True):
        enc.add(t, h)
    return chunk_bytes(enc, header)


# -- decoding ----------------------------------------------------------------------


def _abs_from_deltas(deltas: list[int]) -> tuple[float, ...]:
    return tuple(float(c) for c in itertools.accumulate(deltas))


def _hint(header: CounterResetHeader, num_read: int) -> CounterResetHint:
    """Prometheus's ``counterResetHint``: the header only speaks for gauges; later
    samples of a counter chunk are never resets; the first one is unknown."""
    if header == CounterResetHeader.GAUGE:
        return CounterResetHint.GAUGE
    if num_read > 1:
        return CounterResetHint.NOT_COUNTER_RESET
    return CounterResetHint.UNKNOWN


def decode_histogram_chunk(
    data: bytes | memoryview, encoding: int
) -> tuple[npt.NDArray[np.int64], list[Histogram]]:
    """All samples of a histogram (2) or float-histogram (3) chunk.

    Counter-reset hints are set as Prometheus's iterator sets them. Raises
    ``CorruptChunkError`` when the stream ends early or is inconsistent.
    """
    if encoding not in (ENCODING_HISTOGRAM, ENCODING_FLOAT_HISTOGRAM):
        raise ValueError(f"not a histogram chunk encoding: {encoding}")
    header = chunk_counter_reset_header(data)
    n = (data[0] << 8) | data[1]
    r = BitReader(bytes(data[HISTOGRAM_HEADER_SIZE:]))
    ts = np.empty(n, dtype=np.int64)
    out: list[Histogram] = []
    if n == 0:
        return ts, out
    lay = _read_layout(r)
    integer = encoding == ENCODING_HISTOGRAM
    np_, nn = len(lay.positive_indices()), len(lay.negative_indices())
    if backend() == "numba":
        return _decode_compiled(np.frombuffer(bytes(data[HISTOGRAM_HEADER_SIZE:]), np.uint8),
                                r.pos, n, lay, np_, nn, header, integer)
    if integer:
        _decode_int(r, lay, n, np_, nn, header, ts, out)
    else:
        _decode_float(r, lay, n, np_, nn, header, ts, out)
    return ts, out


def _decode_compiled(
    data: npt.NDArray[np.uint8], pos: int, n: int, lay: Layout, np_: int, nn: int,
    header: CounterResetHeader, integer: bool,
) -> tuple[npt.NDArray[np.int64], list[Histogram]]:
    """The samples after the layout by the Numba kernels, then one object per sample."""
    from tidewell.tsdb.chunkenc import _hist_kernels as k

    ts = np.empty(n, dtype=np.int64)
    nb = np_ + nn
    if integer:
        cnt = np.empty(n, dtype=np.int64)
        zc = np.empty(n, dtype=np.int64)
        sums = np.empty(n, dtype=np.uint64)
        buckets = np.empty((n, nb), dtype=np.int64)
        status = k.decode_int(data, pos, np_, nn, ts, cnt, zc, sums, buckets)
        counts, zcounts = cnt.astype(np.float64), zc.astype(np.float64)
        bvals = buckets.astype(np.float64)
    else:
        cb = np.empty(n, dtype=np.uint64)
        zb = np.empty(n, dtype=np.uint64)
        sums = np.empty(n, dtype=np.uint64)
        bb = np.empty((n, nb), dtype=np.uint64)
        status = k.decode_float(data, pos, nb, ts, cb, zb, sums, bb)
        counts, zcounts, bvals = cb.view(np.float64), zb.view(np.float64), bb.view(np.float64)
    if status < 0:
        bit = -status - 1
        raise CorruptChunkError(f"histogram chunk ends or breaks at bit {bit}", offset=bit // 8)
    stale = sums == np.uint64(STALE_NAN_BITS)
    sum_l = sums.view(np.float64).tolist()
    rows = bvals.tolist()
    cnt_l, zc_l, stale_l = counts.tolist(), zcounts.tolist(), stale.tolist()
    gauge = header == CounterResetHeader.GAUGE
    later = CounterResetHint.GAUGE if gauge else CounterResetHint.NOT_COUNTER_RESET
    first = CounterResetHint.GAUGE if gauge else CounterResetHint.UNKNOWN
    out: list[Histogram] = []
    for i in range(n):
        if stale_l[i]:
            out.append(Histogram(sum=sum_l[i], integer=integer))
            continue
        row = rows[i]
        out.append(Histogram(
            schema=lay.schema, zero_threshold=lay.zero_threshold, zero_count=zc_l[i],
            count=cnt_l[i], sum=sum_l[i], positive_spans=lay.positive_spans,
            positive_buckets=tuple(row[:np_]), negative_spans=lay.negative_spans,
            negative_buckets=tuple(row[np_:]), counter_reset_hint=first if i == 0 else later,
            custom_values=lay.custom_values, integer=integer))
    return ts, out


def _make(lay: Layout, hint: CounterResetHint, cnt: float, zcnt: float, s: float,
          pb: tuple[float, ...], nb: tuple[float, ...], integer: bool) -> Histogram:
    if math.isnan(s) and float_bits(s) == STALE_NAN_BITS:
        return Histogram(sum=s, integer=integer)
    return Histogram(
        schema=lay.schema, zero_threshold=lay.zero_threshold, zero_count=zcnt, count=cnt,
        sum=s, positive_spans=lay.positive_spans, positive_buckets=pb,
        negative_spans=lay.negative_spans, negative_buckets=nb, counter_reset_hint=hint,
        custom_values=lay.custom_values, integer=integer,
    )


def _decode_int(r: BitReader, lay: Layout, n: int, np_: int, nn: int,
                header: CounterResetHeader, ts: npt.NDArray[np.int64],
                out: list[Histogram]) -> None:
    t = r.varbit_int()
    cnt = r.varbit_uint()
    zcnt = r.varbit_uint()
    sum_state = [r.read(64), 0, 0]
    pb = r.varbit_ints(np_)
    nb = r.varbit_ints(nn)
    pbd = [0] * np_
    nbd = [0] * nn
    t_delta = cnt_delta = zcnt_delta = 0
    ts[0] = t
    out.append(_make(lay, _hint(header, 1), float(cnt), float(zcnt),
                     float_from_bits(sum_state[0]), _abs_from_deltas(pb),
                     _abs_from_deltas(nb), True))
    for k in range(1, n):
        t_delta += r.varbit_int()
        t += t_delta
        cnt_delta += r.varbit_int()
        cnt += cnt_delta
        zcnt_delta += r.varbit_int()
        zcnt += zcnt_delta
        s = r.xor_float(sum_state)
        ts[k] = t
        if math.isnan(s) and sum_state[0] == STALE_NAN_BITS:
            out.append(Histogram(sum=s, integer=True))
            continue
        dods = r.varbit_ints(np_ + nn)
        for i in range(np_):
            pbd[i] += dods[i]
            pb[i] += pbd[i]
        for i in range(nn):
            nbd[i] += dods[np_ + i]
            nb[i] += nbd[i]
        out.append(_make(lay, _hint(header, k + 1), float(cnt), float(zcnt), s,
                         _abs_from_deltas(pb), _abs_from_deltas(nb), True))


def _decode_float(r: BitReader, lay: Layout, n: int, np_: int, nn: int,
                  header: CounterResetHeader, ts: npt.NDArray[np.int64],
                  out: list[Histogram]) -> None:
    t = r.varbit_int()
    cnt = [r.read(64), 0, 0]
    zcnt = [r.read(64), 0, 0]
    sm = [r.read(64), 0, 0]
    pb = [[r.read(64), 0, 0] for _ in range(np_)]
    nb = [[r.read(64), 0, 0] for _ in range(nn)]
    t_delta = 0
    ts[0] = t

    def vals(states: list[list[int]]) -> tuple[float, ...]:
        return tuple(float_from_bits(s[0]) for s in states)

    out.append(_make(lay, _hint(header, 1), float_from_bits(cnt[0]), float_from_bits(zcnt[0]),
                     float_from_bits(sm[0]), vals(pb), vals(nb), False))
    for k in range(1, n):
        t_delta += r.varbit_int()
        t += t_delta
        c = r.xor_float(cnt)
        z = r.xor_float(zcnt)
        s = r.xor_float(sm)
        ts[k] = t
        if math.isnan(s) and sm[0] == STALE_NAN_BITS:
            out.append(Histogram(sum=s, integer=False))
            continue
        for st in pb:
            r.xor_float(st)
        for st in nb:
            r.xor_float(st)
        out.append(_make(lay, _hint(header, k + 1), c, z, s, vals(pb), vals(nb), False))
