"""XOR chunk bit-stream kernels compiled by Numba.

Imported lazily by ``xor`` (``numba`` costs ~0.2 s to import); each kernel is
compiled on its first call and its machine code cached on disk. Numba caches
next to the source when that is writable and otherwise in a per-user
directory; ``TIDEWELL_NUMBA_CACHE_DIR`` (or ``NUMBA_CACHE_DIR``) overrides
both. When no location is writable we compile in memory rather than fail.

Everything is uint64/int64 arithmetic with explicit casts because Numba
promotes mixed uint64/int64 operations to float.

Format (Prometheus ``chunkenc/xor.go``): 2-byte big-endian sample count, then
a bit stream (MSB first): t0 as zig-zag varint, v0 as 64 raw bits; t1-t0 as
uvarint and v1 XOR-encoded; then for each further sample the delta-of-delta of
the timestamp in a 1/16/20/24/68-bit bucket and the XOR-encoded value.

``append_sample`` is one step of the encoder, shared by ``encode_into`` (a whole
chunk) and ``append_open`` (the head's open chunks, grown across calls and
closed by Prometheus's head rule), so both produce the same bytes.
"""

from __future__ import annotations

import logging
import os

if "TIDEWELL_NUMBA_CACHE_DIR" in os.environ and "NUMBA_CACHE_DIR" not in os.environ:
    os.environ["NUMBA_CACHE_DIR"] = os.environ["TIDEWELL_NUMBA_CACHE_DIR"]

import numba
import numpy as np

_log = logging.getLogger("tidewell.tsdb.chunkenc")


def _probe() -> int:
    return 0


def _cache_usable() -> bool:
    try:
        numba.njit(cache=True)(_probe)
    except RuntimeError as exc:  # "no locator available": nowhere writable
        _log.warning("numba cache unavailable, compiling in memory: %s", exc)
        return False
    return True


CACHE_ENABLED = _cache_usable()
_jit = numba.njit(cache=CACHE_ENABLED, nogil=True)

_U0 = np.uint64(0)
_U1 = np.uint64(1)
_M32 = np.uint64(0x00000000FFFFFFFF)
_M48 = np.uint64(0x0000FFFFFFFFFFFF)
_M56 = np.uint64(0x00FFFFFFFFFFFFFF)
_M60 = np.uint64(0x0FFFFFFFFFFFFFFF)
_M62 = np.uint64(0x3FFFFFFFFFFFFFFF)
_M63 = np.uint64(0x7FFFFFFFFFFFFFFF)
_LO32 = np.uint64(0xFFFFFFFF)
_LO16 = np.uint64(0xFFFF)
_LO8 = np.uint64(0xFF)
_LO4 = np.uint64(0xF)
_LO2 = np.uint64(0x3)


@_jit
def clz64(x: np.uint64) -> int:
    """Leading zero bits of a non-zero uint64."""
    n = 0
    if x <= _M32:
        n += 32
        x = x << np.uint64(32)
    if x <= _M48:
        n += 16
        x = x << np.uint64(16)
    if x <= _M56:
        n += 8
        x = x << np.uint64(8)
    if x <= _M60:
        n += 4
        x = x << np.uint64(4)
    if x <= _M62:
        n += 2
        x = x << np.uint64(2)
    if x <= _M63:
        n += 1
    return n


@_jit
def ctz64(x: np.uint64) -> int:
    """Trailing zero bits of a non-zero uint64."""
    n = 0
    if (x & _LO32) == _U0:
        n += 32
        x = x >> np.uint64(32)
    if (x & _LO16) == _U0:
        n += 16
        x = x >> np.uint64(16)
    if (x & _LO8) == _U0:
        n += 8
        x = x >> np.uint64(8)
    if (x & _LO4) == _U0:
        n += 4
        x = x >> np.uint64(4)
    if (x & _LO2) == _U0:
        n += 2
        x = x >> np.uint64(2)
    if (x & _U1) == _U0:
        n += 1
    return n


@_jit
def write_bits(buf: np.ndarray, bitpos: int, value: np.uint64, nbits: int) -> int:
    """OR the low ``nbits`` of ``value`` into zeroed ``buf`` at ``bitpos``, MSB first."""
    while nbits > 0:
        free = 8 - (bitpos & 7)
        take = free if free < nbits else nbits
        bits = (value >> np.uint64(nbits - take)) & ((_U1 << np.uint64(take)) - _U1)
        buf[bitpos >> 3] |= np.uint8(bits << np.uint64(free - take))
        nbits -= take
        bitpos += take
    return bitpos


@_jit
def write_uvarint(buf: np.ndarray, bitpos: int, ux: np.uint64) -> int:
    while ux >= np.uint64(0x80):
        bitpos = write_bits(buf, bitpos, (ux & np.uint64(0x7F)) | np.uint64(0x80), 8)
        ux = ux >> np.uint64(7)
    return write_bits(buf, bitpos, ux, 8)


@_jit
def write_xor(
    buf: np.ndarray, bitpos: int, delta: np.uint64, leading: int, trailing: int
) -> tuple[int, int, int, int]:
    """Append one XOR-encoded value delta.

    Returns (bitpos, leading, trailing, width of the last bit write); the
    width matters for the trailing-byte rule in ``encode_into``.
    """
    if delta == _U0:
        return write_bits(buf, bitpos, _U0, 1), leading, trailing, 1
    new_leading = clz64(delta)
    new_trailing = ctz64(delta)
    if new_leading >= 32:
        new_leading = 31
    if leading != 0xFF and new_leading >= leading and new_trailing >= trailing:
        bitpos = write_bits(buf, bitpos, np.uint64(0b10), 2)
        width = 64 - leading - trailing
        bitpos = write_bits(buf, bitpos, delta >> np.uint64(trailing), width)
        return bitpos, leading, trailing, width
    sigbits = 64 - new_leading - new_trailing
    bitpos = write_bits(buf, bitpos, np.uint64(0b11), 2)
    bitpos = write_bits(buf, bitpos, np.uint64(new_leading), 5)
    bitpos = write_bits(buf, bitpos, np.uint64(sigbits), 6)  # 64 wraps to 0 in 6 bits
    bitpos = write_bits(buf, bitpos, delta >> np.uint64(new_trailing), sigbits)
    return bitpos, new_leading, new_trailing, sigbits


@_jit
def _used_bytes(bitpos: int, last_width: int) -> int:
    """Chunk length in bytes, with Prometheus's bstream quirk.

    Go's ``bstream.writeByte`` always appends a fresh byte, so when the stream
    ends byte-aligned right after a whole-byte write (``writeBits`` of a
    multiple of 8 bits), Prometheus's chunk carries one extra zero byte.
    Reproducing it keeps chunks byte-identical.
    """
    if (bitpos & 7) == 0 and last_width % 8 == 0:
        return (bitpos >> 3) + 1
    return (bitpos + 7) >> 3


@_jit
def append_sample(
    buf: np.ndarray,
    bitpos: int,
    n: int,
    t: np.int64,
    vb: np.uint64,
    prev_t: np.int64,
    tdelta: np.int64,
    prev_vb: np.uint64,
    leading: int,
    trailing: int,
) -> tuple[int, np.int64, int, int, int]:
    """Append sample number ``n`` (0-based) of a chunk to its bit stream in zeroed ``buf``.

    ``prev_t``/``prev_vb`` are the previous sample, ``tdelta`` its time delta,
    ``leading``/``trailing`` the XOR window (0xFF/0 before the second sample).
    Returns (bitpos, tdelta, leading, trailing, width of the last bit write):
    the state the next append needs, so a chunk can grow across calls.
    """
    if n == 0:
        zig = (np.uint64(t) << _U1) ^ np.uint64(t >> 63)
        bitpos = write_uvarint(buf, bitpos, zig)
        bitpos = write_bits(buf, bitpos, vb, 64)
        return bitpos, np.int64(0), 0xFF, 0, 64
    d = np.int64(t - prev_t)
    if n == 1:
        bitpos = write_uvarint(buf, bitpos, np.uint64(d))
    else:
        dod = d - tdelta
        if dod == 0:
            bitpos = write_bits(buf, bitpos, _U0, 1)
        elif -8191 <= dod <= 8192:
            bitpos = write_bits(buf, bitpos, np.uint64(0b10), 2)
            bitpos = write_bits(buf, bitpos, np.uint64(dod), 14)
        elif -65535 <= dod <= 65536:
            bitpos = write_bits(buf, bitpos, np.uint64(0b110), 3)
            bitpos = write_bits(buf, bitpos, np.uint64(dod), 17)
        elif -524287 <= dod <= 524288:
            bitpos = write_bits(buf, bitpos, np.uint64(0b1110), 4)
            bitpos = write_bits(buf, bitpos, np.uint64(dod), 20)
        else:
            bitpos = write_bits(buf, bitpos, np.uint64(0b1111), 4)
            bitpos = write_bits(buf, bitpos, np.uint64(dod), 64)
    bitpos, leading, trailing, width = write_xor(buf, bitpos, vb ^ prev_vb, leading, trailing)
    return bitpos, d, leading, trailing, width


@_jit
def encode_into(ts: np.ndarray, vbits: np.ndarray, buf: np.ndarray) -> int:
    """Encode ``ts``/``vbits`` (int64 / uint64 views) into zeroed ``buf``; returns bytes used.

    ``buf`` must hold at least ``2 + 20 * len(ts) + 2`` bytes.
    """
    n = ts.shape[0]
    buf[0] = np.uint8((n >> 8) & 0xFF)
    buf[1] = np.uint8(n & 0xFF)
    if n == 0:
        return 2
    bitpos, tdelta, leading, trailing, last = append_sample(
        buf, 16, 0, ts[0], vbits[0], ts[0], np.int64(0), vbits[0], 0xFF, 0
    )
    for i in range(1, n):
        bitpos, tdelta, leading, trailing, last = append_sample(
            buf, bitpos, i, ts[i], vbits[i], ts[i - 1], tdelta, vbits[i - 1], leading, trailing
        )
    return _used_bytes(bitpos, last)


@_jit
def chunk_end_time(start: np.int64, cur: np.int64, max_t: np.int64) -> np.int64:
    """Prometheus's ``computeChunkEndTime(start, cur, maxT, 4)``, same float maths.

    The end of a chunk from ``start`` whose newest sample is at ``cur``, assuming
    it is a quarter full: the rest of the range up to ``max_t`` split evenly.
    """
    n = float(max_t - start) / (float(cur - start + 1) * 4.0)
    if n <= 1.0:
        return max_t
    return np.int64(float(start) + float(max_t - start) / np.floor(n))


@_jit
def _close_chunk(
    chunk: np.ndarray,
    ref: int,
    mint: np.ndarray,
    maxt: np.ndarray,
    nbytes: np.ndarray,
    out: np.ndarray,
    opos: int,
    rows: int,
    rows_ref: np.ndarray,
    rows_mint: np.ndarray,
    rows_maxt: np.ndarray,
    rows_off: np.ndarray,
    rows_len: np.ndarray,
) -> tuple[int, int]:
    """Move ref's open chunk (at the start of ``chunk``) to ``out`` as one row; zero its bytes."""
    ln = nbytes[ref]
    out[opos : opos + ln] = chunk[:ln]
    chunk[:ln] = 0
    rows_ref[rows] = ref
    rows_mint[rows] = mint[ref]
    rows_maxt[rows] = maxt[ref]
    rows_off[rows] = opos
    rows_len[rows] = ln
    return rows + 1, opos + ln


@_jit
def append_open(
    arena: np.ndarray,
    off: np.ndarray,
    nbits: np.ndarray,
    nbytes: np.ndarray,
    count: np.ndarray,
    mint: np.ndarray,
    maxt: np.ndarray,
    tdelta: np.ndarray,
    vbits: np.ndarray,
    lead: np.ndarray,
    trail: np.ndarray,
    next_at: np.ndarray,
    refs: np.ndarray,
    ts: np.ndarray,
    vs: np.ndarray,
    close: np.ndarray,
    range_ms: int,
    per_chunk: int,
    max_bytes: int,
    new_arena: np.ndarray,
    out: np.ndarray,
    rows_ref: np.ndarray,
    rows_mint: np.ndarray,
    rows_maxt: np.ndarray,
    rows_off: np.ndarray,
    rows_len: np.ndarray,
) -> tuple[int, int, int]:
    """Append samples to the open chunks of many series, closing chunks by Prometheus's rule.

    Per series ref (arrays indexed by ref, updated in place): its open chunk is
    ``arena[off:off + nbytes]`` (``count`` samples, 0 = none; the 2-byte header
    is kept current so the bytes decode as a chunk), ``nbits`` its bit length,
    ``mint``/``maxt`` its first/last time (``maxt`` stays set once it closes),
    ``tdelta``/``vbits``/``lead``/``trail`` the XOR state of its last sample,
    ``next_at`` the time that closes it.

    ``refs``/``ts``/``vs`` (uint64 value bits): the new samples, grouped by
    ascending ref, each ref's strictly increasing and after its ``maxt``.
    A chunk closes before a sample when it is over ``max_bytes``, holds
    ``2 * per_chunk`` samples or the sample reaches ``next_at`` (the end of
    the ``range_ms`` range of its first sample, re-predicted once it holds
    ``per_chunk // 4``); open chunks of refs with ``close[ref]`` close at the end.

    Open chunks are rewritten, in ref order, into zeroed ``new_arena``; closed
    chunks are copied to ``out`` with one row each (ref, mint, maxt, offset,
    length). Returns (bytes used in ``new_arena``, rows, bytes used in ``out``).
    """
    quarter = per_chunk // 4
    hard = 2 * per_chunk
    m = refs.shape[0]
    pos = 0
    k = 0
    rows = 0
    opos = 0
    for ref in range(off.shape[0]):
        base = pos
        ln = nbytes[ref]
        if ln > 0:
            o = off[ref]
            new_arena[base : base + ln] = arena[o : o + ln]
        off[ref] = base
        chunk = new_arena[base:]
        while k < m and refs[k] == ref:
            t = ts[k]
            vb = vs[k]
            k += 1
            n = int(count[ref])
            if n > 0:
                cut = nbytes[ref] > max_bytes
                if not cut:
                    if n == quarter:
                        next_at[ref] = chunk_end_time(mint[ref], maxt[ref], next_at[ref])
                    cut = t >= next_at[ref] or n >= hard
                if cut:
                    rows, opos = _close_chunk(
                        chunk, ref, mint, maxt, nbytes, out, opos,
                        rows, rows_ref, rows_mint, rows_maxt, rows_off, rows_len,
                    )
                    n = 0
            if n == 0:
                mint[ref] = t
                next_at[ref] = (t // range_ms + 1) * range_ms
                bitpos, td, ld, tr, w = append_sample(
                    chunk, 16, 0, t, vb, t, np.int64(0), vb, 0xFF, 0
                )
            else:
                bitpos, td, ld, tr, w = append_sample(
                    chunk, int(nbits[ref]), n, t, vb, maxt[ref], tdelta[ref], vbits[ref],
                    int(lead[ref]), int(trail[ref]),
                )
            n += 1
            count[ref] = n
            chunk[0] = np.uint8((n >> 8) & 0xFF)
            chunk[1] = np.uint8(n & 0xFF)
            nbits[ref] = bitpos
            nbytes[ref] = _used_bytes(bitpos, w)
            maxt[ref] = t
            tdelta[ref] = td
            vbits[ref] = vb
            lead[ref] = ld
            trail[ref] = tr
        if close[ref] and count[ref] > 0:
            rows, opos = _close_chunk(
                chunk, ref, mint, maxt, nbytes, out, opos,
                rows, rows_ref, rows_mint, rows_maxt, rows_off, rows_len,
            )
            count[ref] = 0
            nbits[ref] = 0
            nbytes[ref] = 0
        pos = base + nbytes[ref]
    return pos, rows, opos


@_jit
def read_bits(data: np.ndarray, bitpos: int, nbits: int) -> tuple[np.uint64, int]:
    """Read ``nbits`` (<= 64) MSB-first; returns (value, bitpos) or (0, -1) past the end."""
    if bitpos + nbits > data.shape[0] * 8:
        return _U0, -1
    v = _U0
    while nbits > 0:
        avail = 8 - (bitpos & 7)
        take = avail if avail < nbits else nbits
        byte = np.uint64(data[bitpos >> 3])
        bits = (byte >> np.uint64(avail - take)) & ((_U1 << np.uint64(take)) - _U1)
        v = (v << np.uint64(take)) | bits
        nbits -= take
        bitpos += take
    return v, bitpos


@_jit
def read_uvarint(data: np.ndarray, bitpos: int) -> tuple[np.uint64, int]:
    x = _U0
    shift = 0
    for _ in range(10):
        b, bitpos = read_bits(data, bitpos, 8)
        if bitpos < 0:
            return _U0, -1
        x = x | ((b & np.uint64(0x7F)) << np.uint64(shift))
        if b < np.uint64(0x80):
            return x, bitpos
        shift += 7
    return _U0, -1


@_jit
def decode_into(data: np.ndarray, out_t: np.ndarray, out_v: np.ndarray) -> int:
    """Decode a whole chunk into ``out_t`` (int64) / ``out_v`` (uint64 bits).

    Returns the sample count, or ``-(bit offset + 1)`` where decoding failed.
    The outputs must hold the count found in the 2-byte header.
    """
    if data.shape[0] < 2:
        return -1
    n = (int(data[0]) << 8) | int(data[1])
    if n == 0:
        return 0
    bitpos = 16
    zig, bitpos = read_uvarint(data, bitpos)
    if bitpos < 0:
        return -17
    t = np.int64(zig >> _U1)
    if (zig & _U1) != _U0:
        t = ~t
    vb, bitpos = read_bits(data, bitpos, 64)
    if bitpos < 0:
        return -17
    out_t[0] = t
    out_v[0] = vb
    if n == 1:
        return 1
    tdelta_u, p = read_uvarint(data, bitpos)
    if p < 0:
        return -(bitpos + 1)
    bitpos = p
    tdelta = np.int64(tdelta_u)
    leading = 0
    trailing = 0
    for i in range(1, n):
        start = bitpos
        if i >= 2:
            # delta-of-delta bucket prefix: up to four bits
            d = 0
            for _ in range(4):
                bit, bitpos = read_bits(data, bitpos, 1)
                if bitpos < 0:
                    return -(start + 1)
                d = d << 1
                if bit == _U0:
                    break
                d = d | 1
            sz = 0
            dod = np.int64(0)
            if d == 0b10:
                sz = 14
            elif d == 0b110:
                sz = 17
            elif d == 0b1110:
                sz = 20
            elif d == 0b1111:
                raw, bitpos = read_bits(data, bitpos, 64)
                if bitpos < 0:
                    return -(start + 1)
                dod = np.int64(raw)
            if sz != 0:
                raw, bitpos = read_bits(data, bitpos, sz)
                if bitpos < 0:
                    return -(start + 1)
                dod = np.int64(raw)
                if dod > (np.int64(1) << np.int64(sz - 1)):
                    dod = dod - (np.int64(1) << np.int64(sz))
            tdelta = tdelta + dod
        t = t + tdelta
        # value
        bit, bitpos = read_bits(data, bitpos, 1)
        if bitpos < 0:
            return -(start + 1)
        if bit != _U0:
            bit, bitpos = read_bits(data, bitpos, 1)
            if bitpos < 0:
                return -(start + 1)
            if bit != _U0:
                lead, bitpos = read_bits(data, bitpos, 5)
                if bitpos < 0:
                    return -(start + 1)
                sig, bitpos = read_bits(data, bitpos, 6)
                if bitpos < 0:
                    return -(start + 1)
                sigbits = np.int64(sig)
                if sigbits == 0:
                    sigbits = 64
                leading = np.int64(lead)
                if leading + sigbits > 64:
                    return -(start + 1)
                trailing = 64 - leading - sigbits
            mbits = 64 - leading - trailing
            raw, bitpos = read_bits(data, bitpos, mbits)
            if bitpos < 0:
                return -(start + 1)
            vb = vb ^ (raw << np.uint64(trailing))
        out_t[i] = t
        out_v[i] = vb
    return n


@_jit
def decode_many_into(
    data: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    out_t: np.ndarray,
    out_v: np.ndarray,
    out_pos: np.ndarray,
) -> int:
    """Decode chunks ``data[starts[k]:ends[k]]`` back to back into one output.

    ``out_pos[k]`` must be where chunk k's samples go (a prefix sum of the
    header counts). Returns -1 on success or the index of the first bad chunk.
    """
    for k in range(starts.shape[0]):
        chunk = data[starts[k] : ends[k]]
        lo = out_pos[k]
        hi = out_pos[k + 1]
        got = decode_into(chunk, out_t[lo:hi], out_v[lo:hi])
        if got != hi - lo:
            return k
    return -1


@_jit
def decode_many(
    data: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray, int]:
    """Like ``decode_many_into`` but sizes and allocates the outputs itself.

    Returns (timestamps, value bits, -1) or (.., .., k) for the first chunk k
    that is out of bounds or does not decode.
    """
    m = starts.shape[0]
    pos = np.zeros(m + 1, dtype=np.int64)
    size = data.shape[0]
    for k in range(m):
        s = starts[k]
        e = ends[k]
        if s < 0 or e > size or e - s < 2:
            return np.empty(0, np.int64), np.empty(0, np.uint64), k
        pos[k + 1] = pos[k] + ((np.int64(data[s]) << 8) | np.int64(data[s + 1]))
    out_t = np.empty(pos[m], dtype=np.int64)
    out_v = np.empty(pos[m], dtype=np.uint64)
    bad = decode_many_into(data, starts, ends, out_t, out_v, pos)
    return out_t, out_v, bad


@_jit
def encode_many(
    ts: np.ndarray, vbits: np.ndarray, starts: np.ndarray, ends: np.ndarray,
    buf: np.ndarray, chunk_ends: np.ndarray,
) -> int:
    """Encode chunk k from ``[starts[k], ends[k])`` into zeroed ``buf``; returns bytes used."""
    pos = 0
    for c in range(starts.shape[0]):
        s, e = starts[c], ends[c]
        pos += encode_into(ts[s:e], vbits[s:e], buf[pos:])
        chunk_ends[c] = pos
    return pos
