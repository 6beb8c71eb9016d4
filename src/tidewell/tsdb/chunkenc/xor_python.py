"""Pure-Python XOR chunk codec: the fallback when Numba is unavailable, and the reference.

Same format as ``_xor_kernels`` but on Python ints. About two orders of
magnitude slower than the compiled kernels (see ``BENCHMARKS`` numbers in the
package docstring); also serves as an independent cross-check in tests.
"""

from __future__ import annotations

import struct

from tidewell.tsdb.chunkenc.errors import CorruptChunkError

_MASK64 = (1 << 64) - 1


class _BitWriter:
    __slots__ = ("acc", "nacc", "out")

    def __init__(self) -> None:
        self.out = bytearray()
        self.acc = 0
        self.nacc = 0

    def write(self, value: int, nbits: int) -> None:
        self.acc = (self.acc << nbits) | (value & ((1 << nbits) - 1))
        self.nacc += nbits
        while self.nacc >= 8:
            self.nacc -= 8
            self.out.append((self.acc >> self.nacc) & 0xFF)
        self.acc &= (1 << self.nacc) - 1

    def uvarint(self, x: int) -> None:
        while x >= 0x80:
            self.write((x & 0x7F) | 0x80, 8)
            x >>= 7
        self.write(x, 8)

    def finish(self, last_width: int) -> bytes:
        if self.nacc:
            self.out.append((self.acc << (8 - self.nacc)) & 0xFF)
        elif last_width % 8 == 0:
            # Go's bstream.writeByte leaves a fresh zero byte behind when the
            # stream ends aligned after a whole-byte write (see _xor_kernels).
            self.out.append(0)
        return bytes(self.out)


def _clz(x: int) -> int:
    return 64 - x.bit_length()


def _ctz(x: int) -> int:
    return (x & -x).bit_length() - 1


def encode(timestamps: list[int], vbits: list[int]) -> bytes:
    n = len(timestamps)
    w = _BitWriter()
    w.write(n, 16)
    if n == 0:
        return bytes(w.out)
    t0 = timestamps[0]
    w.uvarint(((t0 << 1) ^ (t0 >> 63)) & _MASK64)
    w.write(vbits[0], 64)
    if n == 1:
        return w.finish(64)
    tdelta = timestamps[1] - t0
    w.uvarint(tdelta & _MASK64)
    leading, trailing, last = 0xFF, 0, 1
    prev_t, prev_v = timestamps[1], vbits[0]
    for i in range(1, n):
        if i >= 2:
            t = timestamps[i]
            d = t - prev_t
            dod = d - tdelta
            tdelta, prev_t = d, t
            if dod == 0:
                w.write(0, 1)
            elif -8191 <= dod <= 8192:
                w.write(0b10, 2)
                w.write(dod, 14)
            elif -65535 <= dod <= 65536:
                w.write(0b110, 3)
                w.write(dod, 17)
            elif -524287 <= dod <= 524288:
                w.write(0b1110, 4)
                w.write(dod, 20)
            else:
                w.write(0b1111, 4)
                w.write(dod, 64)
        v = vbits[i]
        delta = v ^ prev_v
        prev_v = v
        if delta == 0:
            w.write(0, 1)
            last = 1
            continue
        nl, nt = min(_clz(delta), 31), _ctz(delta)
        if leading != 0xFF and nl >= leading and nt >= trailing:
            w.write(0b10, 2)
            last = 64 - leading - trailing
            w.write(delta >> trailing, last)
        else:
            leading, trailing = nl, nt
            sig = 64 - nl - nt
            w.write(0b11, 2)
            w.write(nl, 5)
            w.write(sig, 6)
            w.write(delta >> nt, sig)
            last = sig
    return w.finish(last)


def decode(data: bytes) -> tuple[list[int], list[int]]:
    if len(data) < 2:
        raise CorruptChunkError("chunk shorter than its 2-byte header")
    n = (data[0] << 8) | data[1]
    big = int.from_bytes(data, "big")
    total = len(data) * 8
    pos = 16

    def read(nbits: int) -> int:
        nonlocal pos
        if pos + nbits > total:
            raise CorruptChunkError(f"bit stream ends early (bit {pos})", offset=pos // 8)
        pos += nbits
        return (big >> (total - pos)) & ((1 << nbits) - 1)

    def uvarint() -> int:
        x = shift = 0
        for _ in range(10):
            b = read(8)
            x |= (b & 0x7F) << shift
            if b < 0x80:
                return x
            shift += 7
        raise CorruptChunkError("varint overflow", offset=pos // 8)

    ts: list[int] = []
    vs: list[int] = []
    if n == 0:
        return ts, vs
    z = uvarint()
    t = (z >> 1) ^ -(z & 1)
    v = read(64)
    ts.append(t)
    vs.append(v)
    if n == 1:
        return ts, vs
    tdelta = uvarint()
    if tdelta >= 1 << 63:
        tdelta -= 1 << 64
    leading = trailing = 0
    for i in range(1, n):
        if i >= 2:
            d = 0
            for _ in range(4):
                d <<= 1
                if not read(1):
                    break
                d |= 1
            sz = {0b10: 14, 0b110: 17, 0b1110: 20}.get(d, 0)
            dod = 0
            if d == 0b1111:
                dod = read(64)
                if dod >= 1 << 63:
                    dod -= 1 << 64
            elif sz:
                dod = read(sz)
                if dod > 1 << (sz - 1):
                    dod -= 1 << sz
            tdelta += dod
        t += tdelta
        if read(1):
            if read(1):
                leading = read(5)
                sig = read(6) or 64
                if leading + sig > 64:
                    raise CorruptChunkError("bad XOR leading/significant bits", offset=pos // 8)
                trailing = 64 - leading - sig
            v ^= read(64 - leading - trailing) << trailing
        ts.append(t)
        vs.append(v)
    return ts, vs


def float_bits(values: list[float]) -> list[int]:
    return list(struct.unpack(f"<{len(values)}Q", struct.pack(f"<{len(values)}d", *values)))
