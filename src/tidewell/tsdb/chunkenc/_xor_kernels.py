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
from llvmlite import ir
from numba.extending import intrinsic

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
_inline = numba.njit(cache=CACHE_ENABLED, nogil=True, inline="always")
"""For the bit readers' helpers: a call per field (with an array reference count
each) costs more than the field's work."""

_U0 = np.uint64(0)
_U1 = np.uint64(1)
_LO8 = np.uint64(0xFF)


@intrinsic
def _ctlz(typingctx, x):  # type: ignore[no-untyped-def]
    """LLVM's count-leading-zeros (one instruction), 64 for 0."""
    sig = numba.types.int64(numba.types.uint64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.ctlz(args[0], ir.Constant(ir.IntType(1), 0))

    return sig, codegen


@intrinsic
def _cttz(typingctx, x):  # type: ignore[no-untyped-def]
    """LLVM's count-trailing-zeros (one instruction), 64 for 0."""
    sig = numba.types.int64(numba.types.uint64)

    def codegen(context, builder, signature, args):  # type: ignore[no-untyped-def]
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 0))

    return sig, codegen


@_inline
def clz64(x: np.uint64) -> int:
    """Leading zero bits of a uint64 (64 for 0)."""
    return _ctlz(x)


@_inline
def ctz64(x: np.uint64) -> int:
    """Trailing zero bits of a uint64 (64 for 0)."""
    return _cttz(x)


@_inline
def _be64(data: np.ndarray, i: np.uint64) -> np.uint64:
    """Bytes ``data[i:i + 8]`` as a big-endian word.

    The index is unsigned so that Numba adds no negative-index fix-up per byte:
    LLVM then makes the eight loads one load and a byte swap.
    """
    return (
        (np.uint64(data[i]) << np.uint64(56))
        | (np.uint64(data[i + np.uint64(1)]) << np.uint64(48))
        | (np.uint64(data[i + np.uint64(2)]) << np.uint64(40))
        | (np.uint64(data[i + np.uint64(3)]) << np.uint64(32))
        | (np.uint64(data[i + np.uint64(4)]) << np.uint64(24))
        | (np.uint64(data[i + np.uint64(5)]) << np.uint64(16))
        | (np.uint64(data[i + np.uint64(6)]) << np.uint64(8))
        | np.uint64(data[i + np.uint64(7)])
    )


@_inline
def _store_be64(buf: np.ndarray, i: np.uint64, w: np.uint64) -> None:
    """Store ``w`` big-endian at ``buf[i:i + 8]`` (one store and a byte swap, as ``_be64``)."""
    buf[i] = np.uint8(w >> np.uint64(56))
    buf[i + np.uint64(1)] = np.uint8((w >> np.uint64(48)) & _LO8)
    buf[i + np.uint64(2)] = np.uint8((w >> np.uint64(40)) & _LO8)
    buf[i + np.uint64(3)] = np.uint8((w >> np.uint64(32)) & _LO8)
    buf[i + np.uint64(4)] = np.uint8((w >> np.uint64(24)) & _LO8)
    buf[i + np.uint64(5)] = np.uint8((w >> np.uint64(16)) & _LO8)
    buf[i + np.uint64(6)] = np.uint8((w >> np.uint64(8)) & _LO8)
    buf[i + np.uint64(7)] = np.uint8(w & _LO8)


@_jit
def _write_bits_tail(buf: np.ndarray, bitpos: int, value: np.uint64, nbits: int) -> int:
    """``write_bits`` within the last 9 bytes of ``buf``: byte by byte."""
    while nbits > 0:
        free = 8 - (bitpos & 7)
        take = free if free < nbits else nbits
        bits = (value >> np.uint64(nbits - take)) & ((_U1 << np.uint64(take)) - _U1)
        buf[bitpos >> 3] |= np.uint8(bits << np.uint64(free - take))
        nbits -= take
        bitpos += take
    return bitpos


@_inline
def write_bits(buf: np.ndarray, bitpos: int, value: np.uint64, nbits: int) -> int:
    """OR the low ``nbits`` (1-64) of ``value`` into zeroed ``buf`` at ``bitpos``, MSB first.

    One big-endian word (and the byte after it) per call, not a loop per byte;
    the bytes after ``bitpos`` are zero, so OR-ing the word's unused bits
    changes nothing.
    """
    i = np.uint64(bitpos) >> np.uint64(3)
    if i + np.uint64(9) > np.uint64(buf.shape[0]):
        return _write_bits_tail(buf, bitpos, value, nbits)
    v = value << np.uint64(64 - nbits)
    sh = np.uint64(bitpos) & np.uint64(7)
    _store_be64(buf, i, _be64(buf, i) | (v >> sh))
    buf[i + np.uint64(8)] |= np.uint8(((v << _U1) << (np.uint64(7) - sh)) & _LO8)
    return bitpos + nbits


@_jit
def write_uvarint(buf: np.ndarray, bitpos: int, ux: np.uint64) -> int:
    while ux >= np.uint64(0x80):
        bitpos = write_bits(buf, bitpos, (ux & np.uint64(0x7F)) | np.uint64(0x80), 8)
        ux = ux >> np.uint64(7)
    return write_bits(buf, bitpos, ux, 8)


@_inline
def _used_bytes(bitpos: int, last_width: int) -> int:
    """Chunk length in bytes, with Prometheus's bstream quirk.

    Go's ``bstream.writeByte`` always appends a fresh byte, so when the stream
    ends byte-aligned right after a whole-byte write (``writeBits`` of a
    multiple of 8 bits), Prometheus's chunk carries one extra zero byte.
    Reproducing it keeps chunks byte-identical. ``last_width`` is the width of
    Prometheus's last ``writeBits`` (the value's payload), whichever writes
    we made it with.
    """
    if (bitpos & 7) == 0 and last_width % 8 == 0:
        return (bitpos >> 3) + 1
    return (bitpos + 7) >> 3


_M14 = np.uint64((1 << 14) - 1)
_M17 = np.uint64((1 << 17) - 1)
_M20 = np.uint64((1 << 20) - 1)


@_inline
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

    A control prefix and the bits after it go out in one ``write_bits`` where
    they fit in 64 bits: the bytes are Prometheus's, the writes fewer.
    """
    # Up to two writes end the sample: ``pre`` (pre_n bits, 0 = none), then ``code`` (nb bits).
    pre = _U0
    pre_n = 0
    if n == 0:
        zig = (np.uint64(t) << _U1) ^ np.uint64(t >> 63)
        bitpos = write_uvarint(buf, bitpos, zig)
        d = np.int64(0)
        code = vb
        nb = 64
        width = 64
        leading = 0xFF
        trailing = 0
    else:
        d = np.int64(t - prev_t)
        if n == 1:
            bitpos = write_uvarint(buf, bitpos, np.uint64(d))
        else:
            dod = d - tdelta
            udod = np.uint64(dod)
            if dod == 0:
                bitpos += 1  # a zero bit: buf is zeroed
            else:
                big = False
                if -8191 <= dod <= 8192:
                    dcode = (np.uint64(0b10) << np.uint64(14)) | (udod & _M14)
                    dn = 16
                elif -65535 <= dod <= 65536:
                    dcode = (np.uint64(0b110) << np.uint64(17)) | (udod & _M17)
                    dn = 20
                elif -524287 <= dod <= 524288:
                    dcode = (np.uint64(0b1110) << np.uint64(20)) | (udod & _M20)
                    dn = 24
                else:
                    big = True
                    dcode = udod
                    dn = 64
                if big:
                    bitpos = write_bits(buf, bitpos, np.uint64(0b1111), 4)
                bitpos = write_bits(buf, bitpos, dcode, dn)
        # The value, XOR-encoded: '0' (unchanged), '10' + payload in the previous
        # window, or '11' + 5 bits leading zeros + 6 bits width + payload.
        delta = vb ^ prev_vb
        if delta == _U0:
            return bitpos + 1, d, leading, trailing, 1
        new_leading = clz64(delta)
        new_trailing = ctz64(delta)
        if new_leading >= 32:
            new_leading = 31
        if leading != 0xFF and new_leading >= leading and new_trailing >= trailing:
            nb = 64 - leading - trailing
            width = nb
            code = delta >> np.uint64(trailing)
            if nb <= 62:
                code = (np.uint64(0b10) << np.uint64(nb)) | code
                nb += 2
            else:
                pre = np.uint64(0b10)
                pre_n = 2
        else:
            leading = new_leading
            trailing = new_trailing
            nb = 64 - leading - trailing
            width = nb
            # '11', leading, sigbits (64 wraps to 0 in 6 bits)
            head = np.uint64((0b11 << 11) | (leading << 6) | (nb & 63))
            code = delta >> np.uint64(trailing)
            if nb <= 51:
                code = (head << np.uint64(nb)) | code
                nb += 13
            else:
                pre = head
                pre_n = 13
    if pre_n:
        bitpos = write_bits(buf, bitpos, pre, pre_n)
    bitpos = write_bits(buf, bitpos, code, nb)
    # the width of Prometheus's last writeBits: the payload's
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
    bitpos = 16
    tdelta = np.int64(0)
    leading = 0xFF
    trailing = 0
    last = 0
    prev_t = ts[0]
    prev_v = vbits[0]
    for i in range(n):
        t = ts[i]
        v = vbits[i]
        bitpos, tdelta, leading, trailing, last = append_sample(
            buf, bitpos, i, t, v, prev_t, tdelta, prev_v, leading, trailing
        )
        prev_t = t
        prev_v = v
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
def _peek64_tail(data: np.ndarray, bitpos: int) -> np.uint64:
    """``peek64`` within the last 9 bytes of ``data``: byte by byte, zeros past the end."""
    n = data.shape[0]
    i = bitpos >> 3
    w = _U0
    for j in range(9):
        w = (w << np.uint64(8)) | (np.uint64(data[i + j]) if i + j < n else _U0)
        if j == 7:
            hi = w
            w = _U0
    sh = np.uint64(bitpos & 7)
    return (hi << sh) | ((w >> _U1) >> (np.uint64(7) - sh))


@_inline
def peek64(data: np.ndarray, bitpos: int) -> np.uint64:
    """The 64 bits from ``bitpos`` on, MSB first; bits past the end read as zeros."""
    i = np.uint64(bitpos) >> np.uint64(3)
    sh = np.uint64(bitpos) & np.uint64(7)
    n = np.uint64(data.shape[0])
    if i + np.uint64(9) <= n:
        w = _be64(data, i)
        nxt = np.uint64(data[i + np.uint64(8)])
    else:
        w = _U0
        for j in range(8):
            w = w << np.uint64(8)
            if i + np.uint64(j) < n:
                w = w | np.uint64(data[i + np.uint64(j)])
        nxt = np.uint64(data[i + np.uint64(8)]) if i + np.uint64(8) < n else _U0
    return (w << sh) | ((nxt >> _U1) >> (np.uint64(7) - sh))


@_jit
def read_bits(data: np.ndarray, bitpos: int, nbits: int) -> tuple[np.uint64, int]:
    """Read ``nbits`` (<= 64) MSB-first; returns (value, bitpos) or (0, -1) past the end."""
    if bitpos + nbits > data.shape[0] * 8:
        return _U0, -1
    if nbits == 0:
        return _U0, bitpos
    return peek64(data, bitpos) >> np.uint64(64 - nbits), bitpos + nbits


@_inline
def _take(w: np.uint64, skip: int, nbits: int) -> np.uint64:
    """Bits ``[skip, skip + nbits)`` of ``w`` (MSB first); needs skip + nbits <= 64, nbits >= 1."""
    return (w << np.uint64(skip)) >> np.uint64(64 - nbits)


_TOP1 = np.uint64(1) << np.uint64(63)


@_inline
def _byte_uvarint(data: np.ndarray, i: int) -> tuple[np.uint64, int]:
    """A uvarint at byte ``i``: (value, byte after it), or (0, -1) past the end or over 10 bytes."""
    x = _U0
    shift = np.uint64(0)
    n = data.shape[0]
    for j in range(i, min(i + 10, n)):
        b = np.uint64(data[j])
        x = x | ((b & np.uint64(0x7F)) << shift)
        if b < np.uint64(0x80):
            return x, j + 1
        shift += np.uint64(7)
    return _U0, -1


@_jit
def decode_into(data: np.ndarray, out_t: np.ndarray, out_v: np.ndarray) -> int:
    """Decode a whole chunk into ``out_t`` (int64) / ``out_v`` (uint64 bits).

    Returns the sample count, or ``-(bit offset + 1)`` where decoding failed
    (the first bit of the sample that broke). The outputs must hold the count
    found in the 2-byte header.

    Each field comes out of a 64-bit window (``peek64``) with shifts and one
    bounds check, not bit by bit: the common samples (dod 0, value unchanged
    or in the previous XOR window) cost one or two window reads.
    """
    if data.shape[0] < 2:
        return -1
    n = (int(data[0]) << 8) | int(data[1])
    if n == 0:
        return 0
    total = data.shape[0] * 8
    # The header (t0, v0, t1 - t0) is byte-aligned: read it as bytes.
    zig, p = _byte_uvarint(data, 2)
    if p < 0 or p + 8 > data.shape[0]:
        return -17
    t = np.int64(zig >> _U1)
    if (zig & _U1) != _U0:
        t = ~t
    vb = _be64(data, np.uint64(p))
    out_t[0] = t
    out_v[0] = vb
    if n == 1:
        return 1
    tdelta_u, q = _byte_uvarint(data, p + 8)
    if q < 0:
        return -((p + 8) * 8 + 1)
    bitpos = q * 8
    tdelta = np.int64(tdelta_u)
    leading = 0
    trailing = 0
    for i in range(1, n):
        start = bitpos
        if i >= 2:
            # delta of delta: '0', or a bucket prefix 10/110/1110/1111 and 14/17/20/64 bits
            w = peek64(data, bitpos)
            if w < _TOP1:
                used = 1
            else:
                top4 = np.int64(w >> np.uint64(60))
                if top4 < 0b1100:
                    used = 16
                    sz = 14
                    raw = _take(w, 2, 14)
                elif top4 < 0b1110:
                    used = 20
                    sz = 17
                    raw = _take(w, 3, 17)
                elif top4 == 0b1110:
                    used = 24
                    sz = 20
                    raw = _take(w, 4, 20)
                else:
                    used = 68
                    sz = 64
                    raw = peek64(data, bitpos + 4)
                dod = np.int64(raw)
                if sz < 64 and dod > (np.int64(1) << np.int64(sz - 1)):
                    dod = dod - (np.int64(1) << np.int64(sz))
                tdelta = tdelta + dod
            bitpos += used
            if bitpos > total:
                return -(start + 1)
        t = t + tdelta
        # value: '0' unchanged; '10' payload in the previous window; '11' new window
        if bitpos >= total:
            return -(start + 1)
        w = peek64(data, bitpos)
        if w >= _TOP1:
            if (w << _U1) >= _TOP1:
                if bitpos + 13 > total:
                    return -(start + 1)
                leading = np.int64((w >> np.uint64(57)) & np.uint64(31))
                sigbits = np.int64((w >> np.uint64(51)) & np.uint64(63))
                if sigbits == 0:
                    sigbits = 64
                if leading + sigbits > 64:
                    return -(start + 1)
                trailing = 64 - leading - sigbits
                skip = 13
            else:
                skip = 2
            mbits = 64 - leading - trailing
            if bitpos + skip + mbits > total:
                return -(start + 1)
            if skip + mbits <= 64:
                raw = _take(w, skip, mbits)
            else:
                raw = peek64(data, bitpos + skip) >> np.uint64(64 - mbits)
            vb = vb ^ (raw << np.uint64(trailing))
            bitpos += skip + mbits
        else:
            bitpos += 1
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
def decode_in_range(
    data: np.ndarray, starts: np.ndarray, ends: np.ndarray, owner: np.ndarray,
    counts: np.ndarray, mint: np.int64, maxt: np.int64,
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Decode chunks ``data[starts[k]:ends[k]]`` keeping only samples in ``[mint, maxt]``.

    Each chunk is trimmed right after it is decoded (while it is in cache) and
    its kept samples are added to ``counts[owner[k]]``. Returns (timestamps,
    value bits, samples kept, -1): the first ``kept`` entries hold the samples;
    or (.., .., 0, k) for the first chunk k out of bounds or not decoding.
    """
    m = starts.shape[0]
    size = data.shape[0]
    total = 0
    for k in range(m):
        s = starts[k]
        e = ends[k]
        if s < 0 or e > size or e - s < 2:
            return np.empty(0, np.int64), np.empty(0, np.uint64), 0, k
        total += (np.int64(data[s]) << 8) | np.int64(data[s + 1])
    out_t = np.empty(total, dtype=np.int64)
    out_v = np.empty(total, dtype=np.uint64)
    w = 0
    for k in range(m):
        s = starts[k]
        cnt = (np.int64(data[s]) << 8) | np.int64(data[s + 1])
        if decode_into(data[s : ends[k]], out_t[w : w + cnt], out_v[w : w + cnt]) != cnt:
            return out_t, out_v, 0, k
        j = w
        for r in range(w, w + cnt):
            t = out_t[r]
            if t >= mint and t <= maxt:
                out_t[j] = t
                out_v[j] = out_v[r]
                j += 1
        counts[owner[k]] += j - w
        w = j
    return out_t, out_v, w, -1


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
