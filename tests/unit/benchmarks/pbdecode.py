"""An independent, deliberately naive protobuf decoder for checking the generator's bytes."""

from __future__ import annotations

import struct


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def fields(buf: bytes) -> list[tuple[int, int, object]]:
    """(field number, wire type, value) of every top-level field of a message."""
    out, pos = [], 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, pos = _varint(buf, pos)
        elif wire == 1:
            val, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            val, pos = buf[pos : pos + n], pos + n
        elif wire == 5:
            val, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"wire type {wire}")
        out.append((num, wire, val))
    if pos != len(buf):
        raise ValueError("trailing bytes")
    return out


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _sample(buf: bytes) -> tuple[float, int]:
    value, ts = 0.0, 0
    for num, wire, v in fields(buf):
        if num == 1 and wire == 1:
            value = struct.unpack("<d", v)[0]
        elif num == 2 and wire == 0:
            ts = _signed(v)
    return value, ts


def decode_rw1(body: bytes) -> list[tuple[tuple[tuple[str, str], ...], list[tuple[float, int]]]]:
    """RW 1.0 WriteRequest -> [(labels, [(value, ts)])]."""
    out = []
    for num, _w, ts_buf in fields(body):
        assert num == 1
        labels, samples = [], []
        for f, _w2, v in fields(ts_buf):
            if f == 1:
                kv = {n: val.decode() for n, _w3, val in fields(v)}
                labels.append((kv.get(1, ""), kv.get(2, "")))
            elif f == 2:
                samples.append(_sample(v))
        out.append((tuple(labels), samples))
    return out


def decode_rw2(body: bytes) -> list[tuple[tuple[tuple[str, str], ...], list[tuple[float, int]]]]:
    """RW 2.0 Request -> [(labels, [(value, ts)])], resolving the symbol table."""
    symbols: list[str] = []
    raw_series = []
    for num, _w, v in fields(body):
        if num == 4:
            symbols.append(v.decode())
        elif num == 5:
            raw_series.append(v)
    out = []
    for ts_buf in raw_series:
        refs: list[int] = []
        samples = []
        for f, _w, v in fields(ts_buf):
            if f == 1:
                pos = 0
                while pos < len(v):
                    r, pos = _varint(v, pos)
                    refs.append(r)
            elif f == 2:
                samples.append(_sample(v))
        names = [symbols[r] for r in refs]
        out.append((tuple(zip(names[::2], names[1::2], strict=True)), samples))
    return out
