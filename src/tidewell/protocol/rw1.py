"""Remote write 1.0 (``prometheus.WriteRequest``) to and from columnar ``SampleBatch``."""

from __future__ import annotations

import sys

import numpy as np

from tidewell.model import Labels, SampleBatch
from tidewell.protocol.errors import ProtocolError
from tidewell.protocol.pb.prompb_pb2 import WriteRequest
from tidewell.protocol.wire import ScanError, decode_samples, scan_write_request

__all__ = ["LabelsCache", "decode_write_request", "encode_write_request"]


class LabelsCache:
    """Maps the raw label bytes of a series to its ``Labels``, bounded in size.

    Consecutive records mostly carry the same series, so decoding each label
    string again is wasted work; a hit costs one dict lookup.
    """

    def __init__(self, max_entries: int = 200_000) -> None:
        self.max_entries = max_entries
        self._d: dict[bytes, Labels] = {}

    def get(self, key: bytes) -> Labels | None:
        return self._d.get(key)

    def put(self, key: bytes, labels: Labels) -> None:
        if len(self._d) >= self.max_entries:
            self._d.clear()
        self._d[key] = labels

    def __len__(self) -> int:
        return len(self._d)


_default_cache = LabelsCache()


def encode_write_request(batch: SampleBatch) -> bytes:
    """Serialize a batch as an uncompressed RW 1.0 ``WriteRequest``, one TimeSeries per labels."""
    wr = WriteRequest()
    order = np.argsort(batch.series_index, kind="stable")
    idx = batch.series_index[order]
    ts = batch.timestamps[order].tolist()
    vs = batch.values[order].tolist()
    bounds = np.searchsorted(idx, np.arange(len(batch.labels) + 1))
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
    return wr.SerializeToString()


def decode_write_request(value: bytes, cache: LabelsCache | None = None) -> SampleBatch:
    """Decode RW 1.0 bytes into a ``SampleBatch`` (float samples only).

    Labels are sorted and empty values dropped if the sender did not; series
    without samples are omitted. Raises ``ProtocolError`` on malformed bytes.
    """
    try:
        res = scan_write_request(value)
    except ScanError as e:
        raise ProtocolError(f"invalid write request: {e}") from None
    ts, vals, series = decode_samples(res)
    if cache is None:
        cache = _default_cache
    raw = bytes(value)
    payload, lab_end = res.ser_payload.tolist(), res.lab_end.tolist()
    keys = [raw[a:b] for a, b in zip(payload, lab_end, strict=True)]
    got = [cache.get(k) for k in keys]
    misses = [i for i, g in enumerate(got) if g is None]
    if misses:
        _fill_misses(res, raw, keys, got, misses, cache)
    labels: list[Labels] = got  # type: ignore[assignment]
    return SampleBatch(labels=labels, series_index=series, timestamps=ts, values=vals)


def parse_write_request(value: bytes) -> WriteRequest:
    """Full protobuf parse (upb); for slow paths and tests."""
    try:
        return WriteRequest.FromString(value)
    except Exception as e:  # google.protobuf.message.DecodeError
        raise ProtocolError(f"invalid write request: {e}") from None


def _fill_misses(
    res, raw: bytes, keys: list[bytes], got: list[Labels | None], misses: list[int],
    cache: LabelsCache,
) -> None:
    """Build ``Labels`` for series not in the cache: decode each name once per call."""
    clean = res.clean_series().tolist()
    lab_first, lab_count = res.lab_first.tolist(), res.lab_count.tolist()
    name_s, name_e = res.name_s.tolist(), res.name_e.tolist()
    val_s, val_e = res.val_s.tolist(), res.val_e.tolist()
    names: dict[bytes, str] = {}
    intern = sys.intern
    try:
        for i in misses:
            f = lab_first[i]
            pairs = []
            for k in range(f, f + lab_count[i]):
                nb = raw[name_s[k] : name_e[k]]
                name = names.get(nb)
                if name is None:
                    name = names[nb] = intern(nb.decode())
                pairs.append((name, raw[val_s[k] : val_e[k]].decode()))
            labels = Labels.from_sorted(pairs) if clean[i] else Labels(pairs)
            got[i] = labels
            cache.put(keys[i], labels)
    except UnicodeDecodeError:
        raise ProtocolError("invalid write request: label is not valid UTF-8") from None
