"""Go ``encoding/binary`` varints (protobuf's too): the one Python codec of them.

The TSDB index and chunk segments and the querier's protobuf answers use it;
compiled scanners (protocol, chunk kernels) keep their own Numba loops.
"""

from __future__ import annotations

__all__ = ["get_uvarint", "get_varint", "put_uvarint", "put_varint", "uvarint"]


def put_uvarint(out: bytearray, x: int) -> None:
    if x < 0:
        raise ValueError(f"uvarint of negative {x}")
    while x >= 0x80:
        out.append((x & 0x7F) | 0x80)
        x >>= 7
    out.append(x)


def uvarint(x: int) -> bytes:
    """``x`` as a uvarint of its own."""
    out = bytearray()
    put_uvarint(out, x)
    return bytes(out)


def put_varint(out: bytearray, x: int) -> None:
    put_uvarint(out, ((x << 1) ^ (x >> 63)) & 0xFFFFFFFFFFFFFFFF)


def get_uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode at ``pos``; raises IndexError past the end, ValueError on overflow."""
    x = shift = 0
    for _ in range(10):
        b = buf[pos]
        pos += 1
        x |= (b & 0x7F) << shift
        if b < 0x80:
            return x, pos
        shift += 7
    raise ValueError("uvarint overflows 64 bits")


def get_varint(buf: bytes, pos: int) -> tuple[int, int]:
    ux, pos = get_uvarint(buf, pos)
    x = ux >> 1
    if ux & 1:
        x = ~x
    return x, pos
