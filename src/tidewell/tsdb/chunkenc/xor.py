"""XOR ("Gorilla") float chunks, byte-for-byte as Prometheus's ``chunkenc/xor.go``.

The hot loops run as Numba-compiled kernels (``_xor_kernels``), imported and
compiled on first use so that importing Tidewell stays fast. If Numba is
missing, or ``TIDEWELL_CHUNKENC=python`` is set, a pure-Python codec is used
instead (~100x slower, same bytes).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from tidewell.tsdb.chunkenc import xor_python
from tidewell.tsdb.chunkenc.errors import CorruptChunkError
from tidewell.util.kernel_bytes import read_only_bytes

__all__ = [
    "ENCODING_XOR",
    "MAX_SAMPLES_PER_CHUNK",
    "backend",
    "chunk_num_samples",
    "decode_xor",
    "decode_xor_many",
    "encode_xor",
]

ENCODING_XOR = 1
"""Encoding byte of XOR chunks in chunk segment files (``chunkenc.EncXOR``)."""

MAX_SAMPLES_PER_CHUNK = 0xFFFF
"""The 2-byte header caps a chunk's sample count."""

_kernels: ModuleType | None = None
_backend: str | None = None


def backend() -> str:
    """Which codec is in use: ``"numba"`` or ``"python"`` (loads it on first call)."""
    global _kernels, _backend
    if _backend is None:
        if os.environ.get("TIDEWELL_CHUNKENC", "").lower() == "python":
            _backend = "python"
        else:
            try:
                from tidewell.tsdb.chunkenc import _xor_kernels
            except ImportError:
                _backend = "python"
            else:
                _kernels = _xor_kernels
                _backend = "numba"
    return _backend


def encode_xor(
    timestamps: npt.NDArray[np.int64] | Sequence[int],
    values: npt.NDArray[np.float64] | Sequence[float],
) -> bytes:
    """Encode one chunk (2-byte sample count header included).

    Timestamps are int64 milliseconds in increasing order; values are kept
    bit-exact (NaN payloads such as the staleness marker survive).
    """
    ts = np.ascontiguousarray(timestamps, dtype=np.int64)
    vs = np.ascontiguousarray(values, dtype=np.float64)
    n = ts.shape[0]
    if vs.shape[0] != n:
        raise ValueError(f"{n} timestamps but {vs.shape[0]} values")
    if n > MAX_SAMPLES_PER_CHUNK:
        raise ValueError(f"{n} samples exceed the {MAX_SAMPLES_PER_CHUNK} a chunk holds")
    if backend() == "numba":
        assert _kernels is not None
        buf = np.zeros(2 + 20 * n + 2, dtype=np.uint8)
        used = _kernels.encode_into(ts, vs.view(np.uint64), buf)
        return buf[:used].tobytes()
    return xor_python.encode(ts.tolist(), vs.view(np.uint64).tolist())


def encode_xor_many(
    timestamps: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    starts: npt.NDArray[np.int64],
    ends: npt.NDArray[np.int64],
) -> tuple[bytes, npt.NDArray[np.int64]]:
    """Chunks of ``timestamps[starts[k]:ends[k]]`` back to back, and the end offset of each.

    The bytes are exactly ``encode_xor``'s, chunk after chunk, in one compiled
    call: per-chunk calls cost a Python call, an allocation and a dispatch each
    (~60% of encoding 10k series for a select answer).
    """
    if backend() != "numba":
        chunks = [encode_xor(timestamps[s:e], values[s:e])
                  for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
        sizes = np.fromiter((len(c) for c in chunks), dtype=np.int64, count=len(chunks))
        return b"".join(chunks), np.cumsum(sizes)
    assert _kernels is not None
    n_chunks = starts.shape[0]
    buf = np.zeros(4 * n_chunks + 20 * timestamps.shape[0], dtype=np.uint8)
    chunk_ends = np.empty(n_chunks, dtype=np.int64)
    used = _kernels.encode_many(np.ascontiguousarray(timestamps, np.int64),
                                np.ascontiguousarray(values, np.float64).view(np.uint64),
                                starts, ends, buf, chunk_ends)
    return buf[:used].tobytes(), chunk_ends


def append_open_kernel() -> Callable[..., Any]:
    """The kernel that appends samples to open XOR chunks in place (the head's open chunks).

    With the python backend (``TIDEWELL_CHUNKENC=python``) it is the kernel's
    body, uncompiled.
    """
    from tidewell.tsdb.chunkenc import _xor_kernels

    return _xor_kernels.append_open if backend() == "numba" else _xor_kernels.append_open.py_func


def chunk_num_samples(data: bytes | memoryview) -> int:
    """Sample count from the chunk header, without decoding."""
    if len(data) < 2:
        raise CorruptChunkError("chunk shorter than its 2-byte header")
    return (data[0] << 8) | data[1]


def decode_xor(
    data: bytes | bytearray | memoryview,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Decode a whole chunk into fresh (timestamps, values) arrays.

    Raises ``CorruptChunkError`` when the bit stream ends before the count in
    the header is reached or is internally inconsistent.
    """
    n = chunk_num_samples(data)
    if backend() == "numba":
        assert _kernels is not None
        arr = read_only_bytes(data)  # one compiled signature per kernel
        ts = np.empty(n, dtype=np.int64)
        vb = np.empty(n, dtype=np.uint64)
        got = _kernels.decode_into(arr, ts, vb)
        if got != n:
            bit = -got - 1
            raise CorruptChunkError(
                f"XOR bit stream ends or breaks at bit {bit} before {n} samples",
                offset=bit // 8,
            )
        return ts, vb.view(np.float64)
    tl, vl = xor_python.decode(bytes(data))
    return np.array(tl, dtype=np.int64), np.array(vl, dtype=np.uint64).view(np.float64)


def decode_xor_many(
    buffer: bytes | memoryview | npt.NDArray[np.uint8],
    starts: npt.NDArray[np.int64],
    ends: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], int]:
    """Decode the chunks ``buffer[starts[k]:ends[k]]`` into one pair of arrays.

    Used by block readers to decode all chunks of a series in one call.
    Returns (timestamps, values, -1), or (.., .., k) with k the first chunk
    that failed to decode (outputs then hold garbage and must be dropped).
    """
    arr = np.frombuffer(buffer, dtype=np.uint8) if not isinstance(buffer, np.ndarray) else buffer
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    if backend() == "numba":
        assert _kernels is not None
        ts, vb, bad = _kernels.decode_many(arr, starts, ends)
        return ts, vb.view(np.float64), int(bad)
    short = np.flatnonzero((ends - starts < 2) | (starts < 0) | (ends > arr.shape[0]))
    if short.shape[0]:
        return np.empty(0, np.int64), np.empty(0, np.float64), int(short[0])
    ts_parts, vs_parts = [], []
    for k in range(starts.shape[0]):
        try:
            t, v = decode_xor(arr[int(starts[k]) : int(ends[k])].tobytes())
        except CorruptChunkError:
            return np.empty(0, np.int64), np.empty(0, np.float64), k
        ts_parts.append(t)
        vs_parts.append(v)
    if not ts_parts:
        return np.empty(0, np.int64), np.empty(0, np.float64), -1
    return np.concatenate(ts_parts), np.concatenate(vs_parts), -1
