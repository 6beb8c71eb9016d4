"""Remote write 2.0 bytes → remote write 1.0 bytes in compiled passes that release the GIL.

Parsing a large RW 2.0 body with upb, resolving its symbols in Python and
serializing the RW 1.0 result held the GIL for hundreds of milliseconds at a
time (a 47 MB body: 43 ms parse, ~600 ms of conversion, 380 ms in one
``SerializeToString``), so ``/ready`` and every other request waited. These
kernels walk the RW 2.0 bytes (as ``wire`` walks RW 1.0), size every
``TimeSeries`` and write the RW 1.0 request into one buffer, all with
``nogil=True``; Python only assembles the few metadata entries.

The output is what ``rw2.rw2_to_rw1(parse_rw2(b)).SerializeToString()`` gives
(tests hold the two equal): fields in number order, proto3 defaults omitted,
histograms copied as they came (their field numbers are RW 1.0's). Layout of
``io.prometheus.write.v2.Request`` (the RW 2.0 spec)::

    Request:    4 symbols (LEN), 5 timeseries (LEN)
    TimeSeries: 1 labels_refs (packed or not), 2 samples, 3 histograms,
                4 exemplars, 5 metadata
    Sample:     1 value (I64), 2 timestamp (VARINT), 3 start_timestamp (dropped)
    Exemplar:   1 labels_refs, 2 value (I64), 3 timestamp (VARINT)
    Metadata:   1 type, 3 help_ref, 4 unit_ref
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

from tidewell.protocol.errors import ProtocolError
from tidewell.protocol.pb import prompb_pb2 as pb1
from tidewell.protocol.rw2 import RW2Stats
from tidewell.protocol.wire import _len_field, _skip, _utf8_ok, _varint
from tidewell.util.kernel_bytes import read_only_bytes

__all__ = ["transcode_rw2"]

_ERR_TRUNCATED = 1
_ERR_WIRE_TYPE = 2
_ERR_BAD_VARINT = 3
_ERR_LENGTH = 4
_ERR_FIELD_ZERO = 5
_ERR_ODD_REFS = 6
_ERR_REF_RANGE = 7
_ERR_UTF8 = 8
_ERROR_TEXT = {
    _ERR_TRUNCATED: "unexpected end of data",
    _ERR_WIRE_TYPE: "invalid or unexpected protobuf wire type",
    _ERR_BAD_VARINT: "malformed varint",
    _ERR_LENGTH: "length-delimited field runs past its enclosing message",
    _ERR_FIELD_ZERO: "illegal field number 0",
    _ERR_UTF8: "a symbol is not valid UTF-8",
}
_NAME = np.frombuffer(b"__name__", dtype=np.uint8)
_TYPES = 8  # RW 2.0 metric types 0..7 share RW 1.0's numbering; others become UNKNOWN


@numba.njit(cache=True, nogil=True)
def _vlen(v):  # pragma: no cover - compiled
    """Bytes of ``v`` (uint64) as a varint."""
    n = 1
    while v >= np.uint64(0x80):
        v >>= np.uint64(7)
        n += 1
    return n


@numba.njit(cache=True, nogil=True)
def _put_varint(out, o, v):  # pragma: no cover - compiled
    while v >= np.uint64(0x80):
        out[o] = np.uint8((v & np.uint64(0x7F)) | np.uint64(0x80))
        v >>= np.uint64(7)
        o += 1
    out[o] = np.uint8(v)
    return o + 1


@numba.njit(cache=True, nogil=True)
def _put_bytes(out, o, tag, buf, s, e):  # pragma: no cover - compiled
    """Field ``tag`` (one byte) around ``buf[s:e]``; returns the new position."""
    out[o] = tag
    o = _put_varint(out, o + 1, np.uint64(e - s))
    out[o : o + e - s] = buf[s:e]
    return o + e - s


@numba.njit(cache=True, nogil=True)
def _index(buf, sym_s, sym_e, ser_s, ser_e, fill):  # pragma: no cover - compiled
    """Top-level walk: count (``fill`` False) or locate symbols and series payloads.

    Returns (status, error pos, n_symbols, n_series).
    """
    end = buf.shape[0]
    pos = 0
    ns = 0
    nt = 0
    while pos < end:
        key, p = _varint(buf, pos, end)
        if p < 0:
            return _ERR_BAD_VARINT, pos, 0, 0
        field = key >> np.uint64(3)
        wire = np.int64(key & np.uint64(7))
        if field == 0:
            return _ERR_FIELD_ZERO, pos, 0, 0
        if (field == 4 or field == 5) and wire == 2:
            s, e = _len_field(buf, p, end)
            if s < 0:
                return -s, p, 0, 0
            if field == 4:
                if fill:
                    sym_s[ns] = s
                    sym_e[ns] = e
                ns += 1
            else:
                if fill:
                    ser_s[nt] = s
                    ser_e[nt] = e
                nt += 1
            pos = e
        else:
            p2 = _skip(buf, p, end, wire)
            if p2 < 0:
                return -p2, p, 0, 0
            pos = p2
    return 0, 0, ns, nt


@numba.njit(cache=True, nogil=True)
def _refs(buf, s, e, field, refs):  # pragma: no cover - compiled
    """Collect the uint32 refs of ``field`` (packed or not) in ``buf[s:e]`` into ``refs``.

    Returns (count, error code, error pos); other fields are skipped.
    """
    n = 0
    q = s
    while q < e:
        k, q2 = _varint(buf, q, e)
        if q2 < 0:
            return 0, _ERR_BAD_VARINT, q
        f = k >> np.uint64(3)
        w = np.int64(k & np.uint64(7))
        if f == 0:
            return 0, _ERR_FIELD_ZERO, q
        if f == field and w == 2:
            a, b = _len_field(buf, q2, e)
            if a < 0:
                return 0, -a, q2
            r = a
            while r < b:
                v, r2 = _varint(buf, r, b)
                if r2 < 0:
                    return 0, _ERR_BAD_VARINT, r
                refs[n] = np.int64(v & np.uint64(0x7FFFFFFFFFFFFFFF))
                n += 1
                r = r2
            q = b
        elif f == field and w == 0:
            v, q3 = _varint(buf, q2, e)
            if q3 < 0:
                return 0, _ERR_BAD_VARINT, q2
            refs[n] = np.int64(v & np.uint64(0x7FFFFFFFFFFFFFFF))
            n += 1
            q = q3
        else:
            q3 = _skip(buf, q2, e, w)
            if q3 < 0:
                return 0, -q3, q2
            q = q3
    return n, 0, 0


@numba.njit(cache=True, nogil=True)
def _labels_size(sym_s, sym_e, refs, n):  # pragma: no cover - compiled
    """Bytes of the RW 1.0 ``Label`` fields (tag, length, message) for ``n`` refs."""
    size = 0
    for j in range(0, n, 2):
        ln = sym_e[refs[j]] - sym_s[refs[j]]
        lv = sym_e[refs[j + 1]] - sym_s[refs[j + 1]]
        m = 0
        if ln > 0:
            m += 1 + _vlen(np.uint64(ln)) + ln
        if lv > 0:
            m += 1 + _vlen(np.uint64(lv)) + lv
        size += 1 + _vlen(np.uint64(m)) + m
    return size


@numba.njit(cache=True, nogil=True)
def _put_labels(out, o, buf, sym_s, sym_e, refs, n):  # pragma: no cover - compiled
    for j in range(0, n, 2):
        ns, ne = sym_s[refs[j]], sym_e[refs[j]]
        vs, ve = sym_s[refs[j + 1]], sym_e[refs[j + 1]]
        m = 0
        if ne > ns:
            m += 1 + _vlen(np.uint64(ne - ns)) + ne - ns
        if ve > vs:
            m += 1 + _vlen(np.uint64(ve - vs)) + ve - vs
        out[o] = 0x0A
        o = _put_varint(out, o + 1, np.uint64(m))
        if ne > ns:
            o = _put_bytes(out, o, 0x0A, buf, ns, ne)
        if ve > vs:
            o = _put_bytes(out, o, 0x12, buf, vs, ve)
    return o


@numba.njit(cache=True, nogil=True)
def _check_refs(refs, n, n_sym):  # pragma: no cover - compiled
    """0, or an error code with the offending ref."""
    if n % 2:
        return _ERR_ODD_REFS, 0
    for j in range(n):
        if refs[j] >= n_sym:
            return _ERR_REF_RANGE, refs[j]
    return 0, 0


@numba.njit(cache=True, nogil=True)
def _point(buf, a, b, vfield, tfield):  # pragma: no cover - compiled
    """(value bits, timestamp, error code, error pos) of a Sample or Exemplar message."""
    bits = np.uint64(0)
    ts = np.uint64(0)
    r = a
    while r < b:
        k, r2 = _varint(buf, r, b)
        if r2 < 0:
            return bits, ts, _ERR_BAD_VARINT, r
        f = k >> np.uint64(3)
        w = np.int64(k & np.uint64(7))
        if f == 0:
            return bits, ts, _ERR_FIELD_ZERO, r
        if f == vfield and w == 1:
            if r2 + 8 > b:
                return bits, ts, _ERR_TRUNCATED, r2
            bits = np.uint64(0)
            for i in range(8):
                bits |= np.uint64(buf[r2 + i]) << np.uint64(8 * i)
            r = r2 + 8
        elif f == tfield and w == 0:
            ts, r3 = _varint(buf, r2, b)
            if r3 < 0:
                return bits, ts, _ERR_BAD_VARINT, r2
            r = r3
        else:
            r3 = _skip(buf, r2, b, w)
            if r3 < 0:
                return bits, ts, -r3, r2
            r = r3
    return bits, ts, 0, 0


@numba.njit(cache=True, nogil=True)
def _point_size(bits, ts):  # pragma: no cover - compiled
    m = 0
    if bits != np.uint64(0):
        m += 9
    if ts != np.uint64(0):
        m += 1 + _vlen(ts)
    return m


@numba.njit(cache=True, nogil=True)
def _put_point(out, o, bits, ts):  # pragma: no cover - compiled
    if bits != np.uint64(0):
        out[o] = 0x09
        for i in range(8):
            out[o + 1 + i] = np.uint8((bits >> np.uint64(8 * i)) & np.uint64(0xFF))
        o += 9
    if ts != np.uint64(0):
        out[o] = 0x10
        o = _put_varint(out, o + 1, ts)
    return o


@numba.njit(cache=True, nogil=True)
def _series(buf, s, e, sym_s, sym_e, refs, xrefs, out, o, write, info):  # pragma: no cover
    """Size (``write`` False) or write the RW 1.0 ``TimeSeries`` content of ``buf[s:e]``.

    ``info`` receives: samples, histograms, exemplars, has metadata, type, help
    ref, unit ref, ``__name__`` value ref (-1: none), error code, error pos/ref.
    Returns the content size (sizing) or the new output position (writing).
    """
    n_sym = sym_s.shape[0]
    n, err, epos = _refs(buf, s, e, 1, refs)
    if err == 0:
        err, epos = _check_refs(refs, n, n_sym)
    if err != 0:
        info[8] = err
        info[9] = epos
        return 0
    size = 0
    if write:
        o = _put_labels(out, o, buf, sym_s, sym_e, refs, n)
    else:
        size += _labels_size(sym_s, sym_e, refs, n)
        info[7] = -1
        for j in range(0, n, 2):
            a = sym_s[refs[j]]
            if sym_e[refs[j]] - a == 8:
                same = True
                for i in range(8):
                    if buf[a + i] != _NAME[i]:
                        same = False
                        break
                if same:
                    info[7] = refs[j + 1]
    # Samples (2), then exemplars (4 in RW 2.0, 3 in RW 1.0), then histograms (3 → 4).
    for want in (2, 4, 3):
        q = s
        while q < e:
            k, q2 = _varint(buf, q, e)
            f = k >> np.uint64(3)
            w = np.int64(k & np.uint64(7))
            if w == 2 and (f == np.uint64(want) or (want == 2 and f == 5)):
                a, b = _len_field(buf, q2, e)
                if a < 0:
                    info[8] = -a
                    info[9] = q2
                    return 0
                q = b
                if f == 5:  # metadata: fields merge, the last occurrence wins
                    if write:
                        continue
                    info[3] = 1
                    r = a
                    while r < b:
                        k3, r2 = _varint(buf, r, b)
                        if r2 < 0:
                            info[8] = _ERR_BAD_VARINT
                            info[9] = r
                            return 0
                        f3 = k3 >> np.uint64(3)
                        w3 = np.int64(k3 & np.uint64(7))
                        if f3 == 0:
                            info[8] = _ERR_FIELD_ZERO
                            info[9] = r
                            return 0
                        if (f3 == 1 or f3 == 3 or f3 == 4) and w3 == 0:
                            v, r3 = _varint(buf, r2, b)
                            slot = 4 if f3 == 1 else (5 if f3 == 3 else 6)
                            info[slot] = np.int64(v & np.uint64(0xFFFFFFFF))
                        else:
                            r3 = _skip(buf, r2, b, w3)
                        if r3 < 0:
                            info[8] = -r3 if r3 < 0 else _ERR_BAD_VARINT
                            info[9] = r2
                            return 0
                        r = r3
                    continue
                if want == 2:
                    bits, ts, err, epos = _point(buf, a, b, 1, 2)
                    if err != 0:
                        info[8] = err
                        info[9] = epos
                        return 0
                    m = _point_size(bits, ts)
                    if write:
                        out[o] = 0x12
                        o = _put_varint(out, o + 1, np.uint64(m))
                        o = _put_point(out, o, bits, ts)
                    else:
                        size += 1 + _vlen(np.uint64(m)) + m
                        info[0] += 1
                elif want == 4:
                    nx, err, epos = _refs(buf, a, b, 1, xrefs)
                    if err == 0:
                        err, epos = _check_refs(xrefs, nx, n_sym)
                    bits = np.uint64(0)
                    ts = np.uint64(0)
                    if err == 0:
                        bits, ts, err, epos = _point(buf, a, b, 2, 3)
                    if err != 0:
                        info[8] = err
                        info[9] = epos
                        return 0
                    m = _labels_size(sym_s, sym_e, xrefs, nx)
                    m += _point_size(bits, ts)
                    if write:
                        out[o] = 0x1A
                        o = _put_varint(out, o + 1, np.uint64(m))
                        o = _put_labels(out, o, buf, sym_s, sym_e, xrefs, nx)
                        if bits != np.uint64(0):
                            out[o] = 0x11
                            for i in range(8):
                                out[o + 1 + i] = np.uint8(
                                    (bits >> np.uint64(8 * i)) & np.uint64(0xFF))
                            o += 9
                        if ts != np.uint64(0):
                            out[o] = 0x18
                            o = _put_varint(out, o + 1, ts)
                    else:
                        size += 1 + _vlen(np.uint64(m)) + m
                        info[2] += 1
                else:
                    r = a
                    while r < b:  # a histogram is copied as it is: check its framing
                        k3, r2 = _varint(buf, r, b)
                        r3 = _skip(buf, r2, b, np.int64(k3 & np.uint64(7))) if r2 >= 0 else -1
                        if r2 < 0 or r3 < 0 or (k3 >> np.uint64(3)) == 0:
                            info[8] = _ERR_BAD_VARINT if r2 < 0 else (
                                -r3 if r3 < 0 else _ERR_FIELD_ZERO)
                            info[9] = r
                            return 0
                        r = r3
                    if write:
                        o = _put_bytes(out, o, 0x22, buf, a, b)
                    else:
                        size += 1 + _vlen(np.uint64(b - a)) + b - a
                        info[1] += 1
            else:
                if f == 0:
                    info[8] = _ERR_FIELD_ZERO
                    info[9] = q
                    return 0
                q3 = _skip(buf, q2, e, w) if q2 >= 0 else -_ERR_BAD_VARINT
                if q3 < 0:
                    info[8] = -q3
                    info[9] = q
                    return 0
                q = q3
    return o if write else size


@numba.njit(cache=True, nogil=True)
def _transcode(buf, sym_s, sym_e, ser_s, ser_e, info, sizes):  # pragma: no cover - compiled
    """Size every series (``info`` row per series), then write them; returns the output."""
    longest = 0
    for i in range(ser_s.shape[0]):
        longest = max(longest, ser_e[i] - ser_s[i])
    refs = np.empty(longest + 1, dtype=np.int64)
    xrefs = np.empty(longest + 1, dtype=np.int64)
    none = np.empty(0, dtype=np.uint8)
    total = 0
    for i in range(ser_s.shape[0]):
        m = _series(buf, ser_s[i], ser_e[i], sym_s, sym_e, refs, xrefs, none, 0, False, info[i])
        if info[i, 8] != 0:
            return none
        sizes[i] = m
        total += 1 + _vlen(np.uint64(m)) + m
    out = np.empty(total, dtype=np.uint8)
    o = 0
    for i in range(ser_s.shape[0]):
        out[o] = 0x0A
        o = _put_varint(out, o + 1, np.uint64(sizes[i]))
        o = _series(buf, ser_s[i], ser_e[i], sym_s, sym_e, refs, xrefs, out, o, True, info[i])
    return out


def _fail(code: int, where: int, n_symbols: int) -> ProtocolError:
    if code == _ERR_ODD_REFS:
        return ProtocolError("odd number of label references")
    if code == _ERR_REF_RANGE:
        return ProtocolError(
            f"symbol reference {where} out of range (symbols table has {n_symbols})")
    return ProtocolError(f"invalid remote write 2.0 request: "
                         f"{_ERROR_TEXT.get(code, 'malformed protobuf')} at byte {where}")


def _metadata(buf: npt.NDArray[np.uint8], sym_s: npt.NDArray[np.int64],
              sym_e: npt.NDArray[np.int64], info: npt.NDArray[np.int64]) -> bytes:
    """RW 1.0 ``metadata`` fields: once per metric name, from its first series with any."""
    n_sym = sym_s.shape[0]

    def sym(ref: int) -> str:
        if ref >= n_sym:
            raise ProtocolError(
                f"symbol reference {ref} out of range (symbols table has {n_sym})")
        return buf[sym_s[ref] : sym_e[ref]].tobytes().decode()

    useful = (info[:, 3] == 1) & (info[:, 7] >= 0) & (info[:, 4:7] != 0).any(axis=1)
    rows = np.flatnonzero(useful)
    if rows.shape[0] == 0:
        return b""
    _, first = np.unique(info[rows, 7], return_index=True)
    out = pb1.WriteRequest()
    seen: set[str] = set()
    for i in rows[np.sort(first)].tolist():
        name = sym(int(info[i, 7]))
        if not name or name in seen:
            continue
        seen.add(name)
        md = out.metadata.add()
        t = int(info[i, 4])
        md.type = t if t < _TYPES else 0  # type: ignore[assignment]
        md.metric_family_name = name
        md.help = sym(int(info[i, 5]))
        md.unit = sym(int(info[i, 6]))
    return out.SerializeToString()


def transcode_rw2(data: bytes | memoryview) -> tuple[bytes | memoryview, RW2Stats]:
    """An RW 2.0 request's bytes as RW 1.0 ``WriteRequest`` bytes, and what it carried.

    Without metadata the result is a view of the output buffer (no copy under the GIL).

    Raises ``ProtocolError`` (400) for malformed input, an odd number of label
    references, a reference past the symbols table or a symbol that is not UTF-8.
    """
    buf = read_only_bytes(data)  # one compiled signature per kernel
    i64 = np.int64
    empty = np.empty(0, dtype=i64)
    status, where, n_sym, n_ser = _index(buf, empty, empty, empty, empty, False)
    if status:
        raise _fail(status, where, 0)
    sym_s, sym_e = np.empty(n_sym, i64), np.empty(n_sym, i64)
    ser_s, ser_e = np.empty(n_ser, i64), np.empty(n_ser, i64)
    _index(buf, sym_s, sym_e, ser_s, ser_e, True)
    if not _utf8_ok(buf, sym_s, sym_e):
        raise _fail(_ERR_UTF8, 0, n_sym)
    info = np.zeros((n_ser, 10), dtype=i64)
    out = _transcode(buf, sym_s, sym_e, ser_s, ser_e, info, np.empty(n_ser, i64))
    bad = np.flatnonzero(info[:, 8])
    if bad.shape[0]:
        row = info[bad[0]]
        raise _fail(int(row[8]), int(row[9]), n_sym)
    stats = RW2Stats(samples=int(info[:, 0].sum()), histograms=int(info[:, 1].sum()),
                     exemplars=int(info[:, 2].sum()))
    meta = _metadata(buf, sym_s, sym_e, info)
    return (b"".join((out, meta)) if meta else memoryview(out)), stats
