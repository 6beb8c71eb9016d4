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
    """Append-only bit stream; ``bytes()`` pads the last byte with zeros."""

    __slots__ = ("_parts", "nbits")

    def __init__(self) -> None:
        self._parts: list[str] = []
        self.nbits = 0

    def write(self, value: int, nbits: int) -> None:
        self._parts.append(format(value & ((1 << nbits) - 1), f"0{nbits}b"))
        self.nbits += nbits

    def write_bit(self, bit: int) -> None:
        self._parts.append("1" if bit else "0")
        self.nbits += 1

    @property
    def num_bytes(self) -> int:
        return (self.nbits + 7) // 8

    def bytes(self) -> bytes:
        if not self.nbits:
            return b""
        s = "".join(self._parts)
        self._parts = [s]
        pad = -self.nbits % 8
        return int(s + "0" * pad, 2).to_bytes((self.nbits + pad) // 8, "big")

    def varbit_int(self, v: int) -> None:
        """``putVarbitInt``."""
        if v == 0:
            self.write_bit(0)
            return
        for k, size in enumerate(_VARBIT_SIZES, start=1):
            if _fits_signed(v, size):
                self.write(((1 << k) - 1) << 1, k + 1)
                self.write(v, size)
                return
        self.write(0xFF, 8)
        self.write(v, 64)

    def varbit_uint(self, v: int) -> None:
        """``putVarbitUint``."""
        if v == 0:
            self.write_bit(0)
            return
        for k, size in enumerate(_VARBIT_SIZES, start=1):
            if v < (1 << size):
                self.write(((1 << k) - 1) << 1, k + 1)
                self.write(v, size)
                return
        self.write(0xFF, 8)
        self.write(v, 64)

    def xor_float(self, new: float, state: list[int]) -> None:
        """``xorWrite``: ``state`` is [previous bits, leading, trailing] (leading 0xff = none)."""
        nb = float_bits(new)
        delta = nb ^ state[0]
        state[0] = nb
        if delta == 0:
            self.write_bit(0)
            return
        self.write_bit(1)
        leading = min(64 - delta.bit_length(), 31)
        trailing = (delta & -delta).bit_length() - 1
        if state[1] != 0xFF and leading >= state[1] and trailing >= state[2]:
            self.write_bit(0)
            self.write(delta >> state[2], 64 - state[1] - state[2])
            return
        state[1], state[2] = leading, trailing
        self.write_bit(1)
        self.write(leading, 5)
        sig = 64 - leading - trailing
        self.write(sig, 6)  # 64 wraps to 0, read back as 64
        self.write(delta >> trailing, sig)


class BitReader:
    """Reads a bit stream written by ``BitWriter`` (or Prometheus's ``bstream``)."""

    __slots__ = ("_bits", "pos")

    def __init__(self, data: bytes | memoryview) -> None:
        n = len(data)
        self._bits = format(int.from_bytes(data, "big"), f"0{8 * n}b") if n else ""
        self.pos = 0

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
