"""Bit streams and Prometheus's varbit integers (``chunkenc/bstream.go``, ``varbit.go``).

Histogram chunks are written one histogram at a time by Python code (histogram
samples are rare next to floats), so the streams are plain Python: the writer
keeps bit strings, the reader one ``'0'/'1'`` string read by slicing.
"""

from __future__ import annotations

import math
import struct

from tidewell.tsdb.chunkenc.errors import CorruptChunkError

__all__ = ["BitReader", "BitWriter", "float_bits", "float_from_bits"]

_VARBIT_SIZES = (3, 6, 9, 12, 18, 25, 56)
"""Payload bits after a prefix of k one-bits and a zero (k = 1..7); 8 ones: 64 bits."""
_U64 = (1 << 64) - 1


def float_bits(v: float) -> int:
    return int.from_bytes(struct.pack(">d", v), "big")


def float_from_bits(b: int) -> float:
    return struct.unpack(">d", b.to_bytes(8, "big"))[0]


def _fits_signed(v: int, nbits: int) -> bool:
    """Prometheus's ``bitRange``: -(2^(n-1)-1) <= v <= 2^(n-1)."""
    half = 1 << (nbits - 1)
    return -(half - 1) <= v <= half


class BitWriter:
    """Append-only bit stream held in one Python int; ``bytes()`` pads with zeros.

    Chunks stay around a kilobyte, so shifting the int per write is cheap and
    beats building bit strings.
    """

    __slots__ = ("_acc", "nbits")

    def __init__(self) -> None:
        self._acc = 0
        self.nbits = 0

    def write(self, value: int, nbits: int) -> None:
        self._acc = (self._acc << nbits) | (value & ((1 << nbits) - 1))
        self.nbits += nbits

    def write_bit(self, bit: int) -> None:
        self._acc = (self._acc << 1) | (1 if bit else 0)
        self.nbits += 1

    @property
    def num_bytes(self) -> int:
        return (self.nbits + 7) // 8

    def bytes(self) -> bytes:
        pad = -self.nbits % 8
        return (self._acc << pad).to_bytes((self.nbits + pad) // 8, "big")

    def varbit_int(self, v: int) -> None:
        """``putVarbitInt``: prefix and payload in one write."""
        if v == 0:
            self._acc <<= 1
            self.nbits += 1
            return
        if -3 <= v <= 4:
            self._acc = (self._acc << 5) | 0b10000 | (v & 0x7)
            self.nbits += 5
            return
        if -31 <= v <= 32:
            self._acc = (self._acc << 9) | (0b110 << 6) | (v & 0x3F)
            self.nbits += 9
            return
        for k, size in enumerate(_VARBIT_SIZES[2:], start=3):
            if _fits_signed(v, size):
                self.write((((1 << k) - 1) << 1 << size) | (v & ((1 << size) - 1)), k + 1 + size)
                return
        self.write(0xFF, 8)
        self.write(v, 64)

    def varbit_ints(self, values: list[int]) -> None:
        """``varbit_int`` of each value; the small ones (most bucket dods) inline."""
        acc, nbits = self._acc, self.nbits
        for v in values:
            if v == 0:
                acc <<= 1
                nbits += 1
            elif -3 <= v <= 4:
                acc = (acc << 5) | 0b10000 | (v & 0x7)
                nbits += 5
            else:
                self._acc, self.nbits = acc, nbits
                self.varbit_int(v)
                acc, nbits = self._acc, self.nbits
        self._acc, self.nbits = acc, nbits

    def varbit_uint(self, v: int) -> None:
        """``putVarbitUint``."""
        if v == 0:
            self._acc <<= 1
            self.nbits += 1
            return
        for k, size in enumerate(_VARBIT_SIZES, start=1):
            if v < (1 << size):
                self.write((((1 << k) - 1) << 1 << size) | v, k + 1 + size)
                return
        self.write(0xFF, 8)
        self.write(v, 64)

    def xor_float(self, new: float, state: list[int]) -> None:
        """``xorWrite``: ``state`` is [previous bits, leading, trailing] (leading 0xff = none)."""
        nb = float_bits(new)
        delta = nb ^ state[0]
        state[0] = nb
        if delta == 0:
            self._acc <<= 1
            self.nbits += 1
            return
        leading = min(64 - delta.bit_length(), 31)
        trailing = (delta & -delta).bit_length() - 1
        if state[1] != 0xFF and leading >= state[1] and trailing >= state[2]:
            sig = 64 - state[1] - state[2]
            self.write((0b10 << sig) | (delta >> state[2]), 2 + sig)
            return
        state[1], state[2] = leading, trailing
        sig = 64 - leading - trailing
        # '11', 5 bits of leading zeros, 6 bits of significant bits (64 wraps to 0), the bits
        self.write((((0b11 << 5 | leading) << 6 | (sig & 0x3F)) << sig) | (delta >> trailing),
                   13 + sig)


class BitReader:
    """Reads a bit stream written by ``BitWriter`` (or Prometheus's ``bstream``)."""

    __slots__ = ("_bits", "pos")

    def __init__(self, data: bytes | memoryview) -> None:
        n = len(data)
        self._bits = format(int.from_bytes(data, "big"), f"0{8 * n}b") if n else ""
        self.pos = 0

    @property
    def nbits(self) -> int:
        """Bits in the stream."""
        return len(self._bits)

    def read(self, nbits: int) -> int:
        end = self.pos + nbits
        if end > len(self._bits):
            raise CorruptChunkError(f"histogram chunk ends at bit {len(self._bits)}",
                                    offset=self.pos // 8)
        v = int(self._bits[self.pos:end], 2) if nbits else 0
        self.pos = end
        return v

    def read_bit(self) -> int:
        return self.read(1)

    def _prefix(self) -> int:
        """Number of leading one-bits of a varbit (0..8), consuming them and the zero."""
        window = self._bits[self.pos:self.pos + 8]
        k = window.find("0")
        if k < 0:
            if len(window) < 8:
                raise CorruptChunkError("histogram chunk ends inside a varbit",
                                        offset=self.pos // 8)
            self.pos += 8
            return 8
        self.pos += k + 1
        return k

    def varbit_int(self) -> int:
        k = self._prefix()
        if k == 0:
            return 0
        if k == 8:
            v = self.read(64)
            return v - (1 << 64) if v >> 63 else v
        size = _VARBIT_SIZES[k - 1]
        v = self.read(size)
        return v - (1 << size) if v > (1 << (size - 1)) else v

    def varbit_ints(self, n: int) -> list[int]:
        """``n`` values of ``varbit_int``; the small ones (most bucket dods) inline."""
        bits, pos, end = self._bits, self.pos, len(self._bits)
        out: list[int] = []
        for _ in range(n):
            if pos < end and bits[pos] == "0":
                out.append(0)
                pos += 1
            elif pos + 5 <= end and bits[pos + 1] == "0":
                v = int(bits[pos + 2:pos + 5], 2)
                out.append(v - 8 if v > 4 else v)
                pos += 5
            else:
                self.pos = pos
                out.append(self.varbit_int())
                pos = self.pos
        self.pos = pos
        return out

    def varbit_uint(self) -> int:
        k = self._prefix()
        if k == 0:
            return 0
        return self.read(64 if k == 8 else _VARBIT_SIZES[k - 1])

    def xor_float(self, state: list[int]) -> float:
        """``xorRead``; ``state`` as in ``BitWriter.xor_float``."""
        if self.read_bit():
            if self.read_bit():
                leading = self.read(5)
                sig = self.read(6) or 64
                state[1], state[2] = leading, 64 - leading - sig
            sig = 64 - state[1] - state[2]
            state[0] ^= (self.read(sig) << state[2]) & _U64
        return float_from_bits(state[0])


def frexp_exponent_if_power_of_two(v: float) -> int | None:
    """Exponent ``e`` with ``v == 0.5 * 2**e``, or None (Go's ``math.Frexp`` convention)."""
    if not math.isfinite(v) or v <= 0:
        return None
    frac, exp = math.frexp(v)
    return exp if frac == 0.5 else None
