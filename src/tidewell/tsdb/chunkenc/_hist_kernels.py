"""Histogram chunk decoding kernels compiled by Numba (``histogram.decode_histogram_chunk``).

The layout (read once per chunk) stays in Python; these kernels decode the
samples after it into columns (timestamps, counts, sum bits, absolute bucket
counts), which Python then turns into ``Histogram`` objects. Same bit format
as ``histogram``'s Python decoder, which stays the reference and the fallback.
"""

from __future__ import annotations

import numpy as np

from tidewell.tsdb.chunkenc._xor_kernels import _jit, read_bits

_U0 = np.uint64(0)
_STALE = np.uint64(0x7FF0000000000002)


@_jit
def _varbit_size(k: int) -> int:
    if k == 1:
        return 3
    if k == 2:
        return 6
    if k == 3:
        return 9
    if k == 4:
        return 12
    if k == 5:
        return 18
    if k == 6:
        return 25
    return 56


@_jit
def _varbit_prefix(data: np.ndarray, pos: int) -> tuple[int, int]:
    if pos < 0:  # an earlier read ran off the end: stay there
        return 0, -1
    k = 0
    while k < 8:
        b, pos = read_bits(data, pos, 1)
        if pos < 0:
            return 0, -1
        if b == _U0:
            break
        k += 1
    return k, pos


@_jit
def read_varbit_int(data: np.ndarray, pos: int) -> tuple[np.int64, int]:
    """``readVarbitInt``; pos -1 when the stream ends."""
    k, pos = _varbit_prefix(data, pos)
    if pos < 0 or k == 0:
        return np.int64(0), pos
    if k == 8:
        v, pos = read_bits(data, pos, 64)
        return np.int64(v), pos
    size = _varbit_size(k)
    v, pos = read_bits(data, pos, size)
    vi = np.int64(v)
    if vi > np.int64(1) << np.int64(size - 1):
        vi -= np.int64(1) << np.int64(size)
    return vi, pos


@_jit
def read_varbit_uint(data: np.ndarray, pos: int) -> tuple[np.uint64, int]:
    k, pos = _varbit_prefix(data, pos)
    if pos < 0 or k == 0:
        return _U0, pos
    return read_bits(data, pos, 64 if k == 8 else _varbit_size(k))


@_jit
def read_xor(data: np.ndarray, pos: int, prev: np.uint64, leading: int,
             trailing: int) -> tuple[np.uint64, int, int, int]:
    """``xorRead``: (value bits, leading, trailing, pos)."""
    if pos < 0:
        return prev, leading, trailing, pos
    b, pos = read_bits(data, pos, 1)
    if pos < 0 or b == _U0:
        return prev, leading, trailing, pos
    b, pos = read_bits(data, pos, 1)
    if pos < 0:
        return prev, leading, trailing, pos
    if b != _U0:
        lz, pos = read_bits(data, pos, 5)
        if pos < 0:
            return prev, leading, trailing, pos
        sb, pos = read_bits(data, pos, 6)
        if pos < 0:
            return prev, leading, trailing, pos
        sig = 64 if sb == _U0 else np.int64(sb)
        leading = np.int64(lz)
        trailing = 64 - leading - sig
    sig = 64 - leading - trailing
    v, pos = read_bits(data, pos, sig)
    return prev ^ (v << np.uint64(trailing)), leading, trailing, pos


@_jit
def decode_int(data: np.ndarray, pos: int, n_pos: int, n_neg: int, out_t: np.ndarray,
               out_cnt: np.ndarray, out_zc: np.ndarray, out_sum: np.ndarray,
               out_b: np.ndarray) -> int:
    """Samples of an integer histogram chunk from bit ``pos`` (after the layout).

    ``out_b[k]`` gets absolute bucket counts (positive, then negative). Returns
    0, or ``-(bit + 1)`` where the stream broke.
    """
    n = out_t.shape[0]
    nb = n_pos + n_neg
    pb = np.zeros(nb, dtype=np.int64)
    pbd = np.zeros(nb, dtype=np.int64)
    t, pos = read_varbit_int(data, pos)
    cnt, pos = read_varbit_uint(data, pos)
    zc, pos = read_varbit_uint(data, pos)
    if pos < 0:
        return -1
    sb, pos = read_bits(data, pos, 64)
    if pos < 0:
        return -1
    for i in range(nb):
        v0, pos = read_varbit_int(data, pos)
        if pos < 0:
            return -1
        pb[i] = v0
    t_delta = np.int64(0)
    c = np.int64(cnt)
    z = np.int64(zc)
    c_delta = np.int64(0)
    z_delta = np.int64(0)
    leading = 0
    trailing = 0
    for k in range(n):
        if k > 0:
            start = pos
            dod, pos = read_varbit_int(data, pos)
            t_delta += dod
            t += t_delta
            dod, pos = read_varbit_int(data, pos)
            c_delta += dod
            c += c_delta
            dod, pos = read_varbit_int(data, pos)
            z_delta += dod
            z += z_delta
            sb, leading, trailing, pos = read_xor(data, pos, sb, leading, trailing)
            if pos < 0:
                return -(start + 1)
            if sb != _STALE:
                for i in range(nb):
                    dod, pos = read_varbit_int(data, pos)
                    pbd[i] += dod
                    pb[i] += pbd[i]
                if pos < 0:
                    return -(start + 1)
        out_t[k] = t
        out_cnt[k] = c
        out_zc[k] = z
        out_sum[k] = sb
        acc = np.int64(0)
        for i in range(nb):
            if i == n_pos:
                acc = np.int64(0)
            acc += pb[i]
            out_b[k, i] = acc
    return 0


@_jit
def decode_float(data: np.ndarray, pos: int, n_buckets: int, out_t: np.ndarray,
                 out_cnt: np.ndarray, out_zc: np.ndarray, out_sum: np.ndarray,
                 out_b: np.ndarray) -> int:
    """Samples of a float histogram chunk from bit ``pos``; every field as uint64 bits."""
    n = out_t.shape[0]
    vals = np.zeros(n_buckets, dtype=np.uint64)
    lead = np.zeros(n_buckets, dtype=np.int64)
    trail = np.zeros(n_buckets, dtype=np.int64)
    t, pos = read_varbit_int(data, pos)
    if pos < 0 or pos + 64 * (3 + n_buckets) > data.shape[0] * 8:
        return -1
    cb, pos = read_bits(data, pos, 64)
    zb, pos = read_bits(data, pos, 64)
    sb, pos = read_bits(data, pos, 64)
    for i in range(n_buckets):
        b0, pos = read_bits(data, pos, 64)
        vals[i] = b0
    t_delta = np.int64(0)
    cl = ct = zl = zt = sl = st = 0
    for k in range(n):
        if k > 0:
            start = pos
            dod, pos = read_varbit_int(data, pos)
            t_delta += dod
            t += t_delta
            cb, cl, ct, pos = read_xor(data, pos, cb, cl, ct)
            zb, zl, zt, pos = read_xor(data, pos, zb, zl, zt)
            sb, sl, st, pos = read_xor(data, pos, sb, sl, st)
            if pos < 0:
                return -(start + 1)
            if sb != _STALE:
                for i in range(n_buckets):
                    v, li, ti, pos = read_xor(data, pos, vals[i], lead[i], trail[i])
                    vals[i] = v
                    lead[i] = li
                    trail[i] = ti
                if pos < 0:
                    return -(start + 1)
        out_t[k] = t
        out_cnt[k] = cb
        out_zc[k] = zb
        out_sum[k] = sb
        for i in range(n_buckets):
            out_b[k, i] = vals[i]
    return 0
