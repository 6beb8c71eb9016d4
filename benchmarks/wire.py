"""Hand-rolled protobuf encoding of remote-write requests, for the load generator only.

The generator must not depend on ``tidewell.protocol`` (the thing under test), so
it writes the wire format itself. Only what a sample-carrying request needs is
here; field numbers come from the remote-write specs:

RW 1.0 ``prometheus.WriteRequest``::

    WriteRequest: 1 timeseries (LEN)
    TimeSeries:   1 labels (LEN), 2 samples (LEN)
    Label:        1 name (LEN), 2 value (LEN)
    Sample:       1 value (I64 double), 2 timestamp (VARINT int64)

RW 2.0 ``io.prometheus.write.v2.Request``::

    Request:    4 symbols (LEN, repeated string), 5 timeseries (LEN)
    TimeSeries: 1 labels_refs (LEN, packed uint32), 2 samples (LEN)
    Sample:     1 value (I64 double), 2 timestamp (VARINT int64)

Requests are snappy block-compressed (not framed), as both specs require.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import cramjam

__all__ = [
    "RW1_HEADERS",
    "RW2_HEADERS",
    "encode_rw1",
    "encode_rw2",
    "label_field_bytes",
    "snappy",
    "varint",
]

RW1_HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": "tidewell-bench/0.1",
}
RW2_HEADERS = {
    "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "2.0.0",
    "User-Agent": "tidewell-bench/0.1",
}

_DOUBLE = struct.Struct("<d")


def varint(n: int) -> bytes:
    """Unsigned LEB128; negative int64 values use their two's complement (10 bytes)."""
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _len_field(tag: int, payload: bytes) -> bytes:
    return bytes((tag,)) + varint(len(payload)) + payload


def _sample(value: float, ts: int) -> bytes:
    # tag 0x09 = field 1 wire 1 (double); tag 0x10 = field 2 wire 0 (varint)
    return b"\x09" + _DOUBLE.pack(value) + b"\x10" + varint(ts)


def label_field_bytes(labels: Sequence[tuple[str, str]]) -> bytes:
    """The repeated ``labels`` fields of an RW 1.0 TimeSeries, reusable across samples."""
    parts = []
    for name, value in labels:
        body = _len_field(0x0A, name.encode()) + _len_field(0x12, value.encode())
        parts.append(_len_field(0x0A, body))
    return b"".join(parts)


def encode_rw1(
    label_parts: Sequence[bytes], values: Sequence[float], timestamps: Sequence[int]
) -> bytes:
    """Uncompressed RW 1.0 body: one TimeSeries (with one sample) per entry.

    ``label_parts[i]`` is ``label_field_bytes`` of the i-th entry's labels.
    """
    out = []
    for lp, v, t in zip(label_parts, values, timestamps, strict=True):
        body = lp + _len_field(0x12, _sample(v, t))
        out.append(b"\x0a" + varint(len(body)) + body)
    return b"".join(out)


def encode_rw2(
    labels: Sequence[Sequence[tuple[str, str]]],
    values: Sequence[float],
    timestamps: Sequence[int],
) -> bytes:
    """Uncompressed RW 2.0 body with a per-request symbol table (symbol 0 is "")."""
    symbols: dict[str, int] = {"": 0}
    series = []
    for ls, v, t in zip(labels, values, timestamps, strict=True):
        refs = bytearray()
        for name, value in ls:
            for s in (name, value):
                ref = symbols.get(s)
                if ref is None:
                    ref = symbols[s] = len(symbols)
                refs += varint(ref)
        body = _len_field(0x0A, bytes(refs)) + _len_field(0x12, _sample(v, t))
        series.append(b"\x2a" + varint(len(body)) + body)
    syms = b"".join(_len_field(0x22, s.encode()) for s in symbols)
    return syms + b"".join(series)


def snappy(body: bytes) -> bytes:
    """Snappy block format, as remote write requires."""
    return bytes(cramjam.snappy.compress_raw(body))
