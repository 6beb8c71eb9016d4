"""Remote write 1.0 (``prometheus.WriteRequest``) to and from columnar ``SampleBatch``."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import overload

import numpy as np

from tidewell.model import Exemplar, Histogram, Labels, MetricMetadata, SampleBatch
from tidewell.protocol.errors import ProtocolError
from tidewell.protocol.pb.prompb_pb2 import TimeSeries, WriteRequest
from tidewell.protocol.prompb_model import (
    exemplar_from_pb,
    exemplar_to_pb,
    histogram_to_pb,
    metadata_from_pb,
    metadata_to_pb,
)
from tidewell.protocol.wire import (
    ScanError,
    ScanResult,
    decode_samples,
    labels_valid_utf8,
    scan_write_request,
    series_key_hashes,
)
from tidewell.protocol.wire_histograms import HistogramDecodeError, decode_histograms

__all__ = ["LazyLabels", "decode_metadata", "decode_write_request", "encode_write_request"]


def encode_write_request(batch: SampleBatch) -> bytes:
    """Serialize a batch as an uncompressed RW 1.0 ``WriteRequest``, one TimeSeries per labels.

    Histograms, exemplars and metadata go where RW 1.0 puts them; a series
    with nothing at all is still written (with its labels only).
    """
    wr = WriteRequest()
    order = np.argsort(batch.series_index, kind="stable")
    idx = batch.series_index[order]
    ts = batch.timestamps[order].tolist()
    vs = batch.values[order].tolist()
    bounds = np.searchsorted(idx, np.arange(len(batch.labels) + 1))
    hists: dict[int, list[tuple[int, Histogram]]] = {}
    for i, t, h in zip(batch.hist_series_index.tolist(), batch.hist_timestamps.tolist(),
                       batch.histograms, strict=True):
        hists.setdefault(i, []).append((t, h))
    exemplars: dict[int, list[Exemplar]] = {}
    for i, e in batch.exemplars:
        exemplars.setdefault(i, []).append(e)
    for i, labels in enumerate(batch.labels):
        series = wr.timeseries.add()
        for name, value in labels:
            lab = series.labels.add()
            lab.name = name
            lab.value = value
        for j in range(int(bounds[i]), int(bounds[i + 1])):
            s = series.samples.add()
            s.value = vs[j]
            s.timestamp = ts[j]
        for t, h in hists.get(i, ()):
            histogram_to_pb(h, t, series.histograms.add())
        for e in exemplars.get(i, ()):
            exemplar_to_pb(e, series.exemplars.add())
    for md in batch.metadata:
        metadata_to_pb(md, wr.metadata.add())
    return wr.SerializeToString()


def decode_write_request(value: bytes) -> SampleBatch:
    """Decode RW 1.0 bytes into a ``SampleBatch``: floats, histograms, exemplars, metadata.

    Labels are sorted and empty values dropped if the sender did not; series
    without samples are omitted. ``labels`` is built lazily (``LazyLabels``)
    and ``series_keys`` hashes each series' label
    bytes, so a head that already holds a series never pays for its labels.
    Raises ``ProtocolError`` on malformed bytes.
    """
    try:
        res = scan_write_request(value)
    except ScanError as e:
        raise ProtocolError(f"invalid write request: {e}") from None
    if not labels_valid_utf8(res):
        raise ProtocolError("invalid write request: label is not valid UTF-8")
    ts, vals, series = decode_samples(res)
    raw = bytes(value)
    batch = SampleBatch(labels=LazyLabels(res, raw), series_index=series,
                        timestamps=ts, values=vals, series_keys=series_key_hashes(res))
    if res.n_histograms.any() or res.n_exemplars.any():
        _decode_series_extras(res, raw, batch)
    if res.meta_start.shape[0]:
        batch.metadata = decode_metadata(res, raw)
    return batch


def _decode_series_extras(res: ScanResult, raw: bytes, batch: SampleBatch) -> None:
    """Histograms (compiled pass) and exemplars (full parse of the series carrying any)."""
    if res.n_histograms.any():
        try:
            series, stamps, batch.histograms = decode_histograms(res)
        except HistogramDecodeError as e:
            raise ProtocolError(f"invalid write request: {e}") from None
        batch.hist_series_index = np.asarray(series, dtype=np.int32)
        batch.hist_timestamps = np.asarray(stamps, dtype=np.int64)
    exemplars: list[tuple[int, Exemplar]] = []
    for i in np.flatnonzero(res.n_exemplars > 0).tolist():
        try:
            ts = TimeSeries.FromString(raw[int(res.ser_payload[i]) : int(res.ser_end[i])])
        except Exception as e:  # google.protobuf.message.DecodeError
            raise ProtocolError(f"invalid write request: {e}") from None
        exemplars.extend((i, exemplar_from_pb(e)) for e in ts.exemplars)
    batch.exemplars = exemplars


def decode_metadata(res: ScanResult, raw: bytes) -> list[MetricMetadata]:
    """The request's ``metadata`` entries (each span is a complete top-level field)."""
    out = []
    for j in range(res.meta_start.shape[0]):
        try:
            wr = WriteRequest.FromString(raw[int(res.meta_start[j]) : int(res.meta_end[j])])
        except Exception as e:  # google.protobuf.message.DecodeError
            raise ProtocolError(f"invalid write request: {e}") from None
        out.extend(metadata_from_pb(md) for md in wr.metadata)
    return out


def parse_write_request(value: bytes) -> WriteRequest:
    """Full protobuf parse (upb); for slow paths and tests."""
    try:
        return WriteRequest.FromString(value)
    except Exception as e:  # google.protobuf.message.DecodeError
        raise ProtocolError(f"invalid write request: {e}") from None


class LazyLabels(Sequence[Labels]):
    """The ``Labels`` of a scanned request's series, each built on first access.

    ``decode_write_request`` checked all label bytes are UTF-8 before, so
    building an entry cannot fail later, inside a head's append.
    """

    __slots__ = ("_clean", "_cols", "_got", "_raw", "_res")

    def __init__(self, res: ScanResult, raw: bytes) -> None:
        self._res = res
        self._raw = raw
        self._got: list[Labels | None] = [None] * res.n_series
        self._clean: list[int] | None = None
        self._cols: tuple[list[int], ...] | None = None

    def __len__(self) -> int:
        return len(self._got)

    @property
    def built(self) -> int:
        """How many entries were built so far (the rest cost nothing yet)."""
        return sum(g is not None for g in self._got)

    @overload
    def __getitem__(self, i: int) -> Labels: ...

    @overload
    def __getitem__(self, i: slice) -> list[Labels]: ...

    def __getitem__(self, i: int | slice) -> Labels | list[Labels]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self._got)))]
        got = self._got[i]
        if got is None:
            self._build([range(len(self._got))[i]])
            got = self._got[i]
        return got  # type: ignore[return-value]

    def __iter__(self) -> Iterator[Labels]:
        missing = [i for i, g in enumerate(self._got) if g is None]
        if missing:
            self._build(missing)
        return iter(self._got)  # type: ignore[arg-type]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LazyLabels({list(self)!r})"

    def _build(self, idx: list[int]) -> None:
        """Build the entries ``idx``, decoding each label name once per call."""
        res, raw, got = self._res, self._raw, self._got
        if self._clean is None:
            self._clean = res.clean_series().tolist()
        clean = self._clean
        if self._cols is None:  # plain ints: indexing NumPy per label boxes a scalar each time
            self._cols = tuple(a.tolist() for a in (res.lab_first, res.lab_count, res.name_s,
                                                    res.name_e, res.val_s, res.val_e))
        lab_first, lab_count, name_s, name_e, val_s, val_e = self._cols
        names: dict[bytes, str] = {}
        intern = sys.intern
        for i in idx:
            f = lab_first[i]
            pairs = []
            for k in range(f, f + lab_count[i]):
                nb = raw[name_s[k] : name_e[k]]
                name = names.get(nb)
                if name is None:
                    name = names[nb] = intern(nb.decode())
                pairs.append((name, raw[val_s[k] : val_e[k]].decode()))
            got[i] = Labels.from_sorted(pairs) if clean[i] else Labels(pairs)
