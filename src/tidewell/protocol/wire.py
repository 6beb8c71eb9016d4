"""Compiled scanners over raw remote-write 1.0 bytes: the hot path stays on bytes.

Decoding a ``WriteRequest`` into Python objects costs ~10x more than walking its
bytes, so the distributor and the record decoder use these Numba kernels to find
where every series, label and sample sits inside the buffer, without building
an object per label. Every read is bounds-checked: malformed input yields an
error code, never a crash.

Layout of ``prometheus.WriteRequest`` (field numbers from the RW 1.0 spec)::

    WriteRequest: 1 timeseries (LEN), 3 metadata (LEN)
    TimeSeries:   1 labels (LEN), 2 samples (LEN), 3 exemplars (LEN), 4 histograms (LEN)
    Label:        1 name (LEN), 2 value (LEN)
    Sample:       1 value (I64), 2 timestamp (VARINT)
    Histogram:    15 timestamp (VARINT), others skipped
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

from tidewell.model.errors import TidewellError
from tidewell.util.kernel_bytes import read_only_bytes

__all__ = ["ScanError", "ScanResult", "decode_samples", "labels_valid_utf8",
           "scan_write_request", "series_key_hashes"]

# Error codes of the scanners (0 = ok).
OK = 0
ERR_TRUNCATED = 1
ERR_WIRE_TYPE = 2
ERR_BAD_VARINT = 3
ERR_LENGTH = 4
ERR_FIELD_ZERO = 5

_ERROR_TEXT = {
    ERR_TRUNCATED: "unexpected end of data",
    ERR_WIRE_TYPE: "invalid or unsupported protobuf wire type",
    ERR_BAD_VARINT: "malformed varint",
    ERR_LENGTH: "length-delimited field runs past its enclosing message",
    ERR_FIELD_ZERO: "illegal field number 0",
}


class ScanError(TidewellError, ValueError):
    """The bytes are not a valid protobuf ``WriteRequest``."""


@numba.njit(cache=True, nogil=True)
def _varint(buf, pos, end):  # pragma: no cover - compiled
    """Read a varint at pos; returns (value as uint64, new pos) or (0, -1) on error."""
    result = np.uint64(0)
    shift = 0
    while True:
        if pos >= end:
            return np.uint64(0), -1
        b = buf[pos]
        pos += 1
        if shift == 63 and b > 1:
            return np.uint64(0), -1
        result |= np.uint64(b & 0x7F) << np.uint64(shift)
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            return np.uint64(0), -1


@numba.njit(cache=True, nogil=True)
def _skip(buf, pos, end, wire):  # pragma: no cover - compiled
    """Skip a field's payload of the given wire type; returns the new pos or -code."""
    if wire == 0:
        _, p = _varint(buf, pos, end)
        if p < 0:
            return -ERR_BAD_VARINT
        return p
    if wire == 1:
        if pos + 8 > end:
            return -ERR_TRUNCATED
        return pos + 8
    if wire == 5:
        if pos + 4 > end:
            return -ERR_TRUNCATED
        return pos + 4
    if wire == 2:
        n, p = _varint(buf, pos, end)
        if p < 0:
            return -ERR_BAD_VARINT
        if n > np.uint64(end - p):
            return -ERR_LENGTH
        return p + np.int64(n)
    return -ERR_WIRE_TYPE


@numba.njit(cache=True, nogil=True)
def _len_field(buf, pos, end):  # pragma: no cover - compiled
    """Read a length prefix; returns (payload start, payload end) or (-code, 0)."""
    n, p = _varint(buf, pos, end)
    if p < 0:
        return -ERR_BAD_VARINT, 0
    if n > np.uint64(end - p):
        return -ERR_LENGTH, 0
    return p, p + np.int64(n)


@numba.njit(cache=True, nogil=True)
def _count(buf):  # pragma: no cover - compiled
    """First pass: (status, error pos, n_series, n_labels, n_samples, n_metadata)."""
    end = buf.shape[0]
    pos = 0
    n_series = 0
    n_labels = 0
    n_samples = 0
    n_meta = 0
    while pos < end:
        key, p = _varint(buf, pos, end)
        if p < 0:
            return ERR_BAD_VARINT, pos, 0, 0, 0, 0
        field = key >> np.uint64(3)
        wire = np.int64(key & np.uint64(7))
        if field == 0:
            return ERR_FIELD_ZERO, pos, 0, 0, 0, 0
        if (field == 1 or field == 3) and wire == 2:
            s, e = _len_field(buf, p, end)
            if s < 0:
                return -s, p, 0, 0, 0, 0
            if field == 3:
                n_meta += 1
            else:
                n_series += 1
                q = s
                while q < e:
                    k2, q2 = _varint(buf, q, e)
                    if q2 < 0:
                        return ERR_BAD_VARINT, q, 0, 0, 0, 0
                    f2 = k2 >> np.uint64(3)
                    w2 = np.int64(k2 & np.uint64(7))
                    if f2 == 0:
                        return ERR_FIELD_ZERO, q, 0, 0, 0, 0
                    if f2 == 1 and w2 == 2:
                        n_labels += 1
                    elif f2 == 2 and w2 == 2:
                        n_samples += 1
                    q3 = _skip(buf, q2, e, w2)
                    if q3 < 0:
                        return -q3, q2, 0, 0, 0, 0
                    q = q3
            pos = e
        else:
            p2 = _skip(buf, p, end, wire)
            if p2 < 0:
                return -p2, p, 0, 0, 0, 0
            pos = p2
    return OK, 0, n_series, n_labels, n_samples, n_meta


@numba.njit(cache=True, nogil=True)
def _fill(
    buf, ser_start, ser_end, ser_payload, lab_end, lab_first, lab_count,
    name_s, name_e, val_s, val_e,
    n_samp, n_hist, n_exem, ts_min, ts_max, meta_start, meta_end,
):  # pragma: no cover - compiled
    """Second pass: offsets of every series, label and metadata entry; ts range per series.

    ``ser_start``/``ser_end`` span the whole top-level field (tag and length
    included), so concatenating such spans yields a valid ``WriteRequest``.
    Returns (status, error pos).
    """
    end = buf.shape[0]
    pos = 0
    si = 0
    li = 0
    mi = 0
    while pos < end:
        start = pos
        key, p = _varint(buf, pos, end)
        field = key >> np.uint64(3)
        wire = np.int64(key & np.uint64(7))
        if (field == 1 or field == 3) and wire == 2:
            s, e = _len_field(buf, p, end)
            if field == 3:
                meta_start[mi] = start
                meta_end[mi] = e
                mi += 1
                pos = e
                continue
            ser_start[si] = start
            ser_end[si] = e
            ser_payload[si] = s
            lab_end[si] = s
            lab_first[si] = li
            ns = 0
            nh = 0
            nx = 0
            tmin = np.int64(9223372036854775807)
            tmax = np.int64(-9223372036854775807 - 1)
            q = s
            while q < e:
                k2, q2 = _varint(buf, q, e)
                f2 = k2 >> np.uint64(3)
                w2 = np.int64(k2 & np.uint64(7))
                if w2 == 2 and (f2 == 1 or f2 == 2 or f2 == 4):
                    a, b = _len_field(buf, q2, e)
                    r = a
                    if f2 == 1:
                        name_s[li] = 0
                        name_e[li] = 0
                        val_s[li] = 0
                        val_e[li] = 0
                        while r < b:
                            k3, r2 = _varint(buf, r, b)
                            if r2 < 0:
                                return ERR_BAD_VARINT, r
                            f3 = k3 >> np.uint64(3)
                            w3 = np.int64(k3 & np.uint64(7))
                            if w3 == 2 and (f3 == 1 or f3 == 2):
                                c, d = _len_field(buf, r2, b)
                                if c < 0:
                                    return -c, r2
                                if f3 == 1:
                                    name_s[li] = c
                                    name_e[li] = d
                                else:
                                    val_s[li] = c
                                    val_e[li] = d
                                r = d
                            else:
                                r3 = _skip(buf, r2, b, w3)
                                if r3 < 0:
                                    return -r3, r2
                                r = r3
                        li += 1
                        lab_end[si] = b
                    else:
                        # Sample (2) or histogram (4): find the timestamp.
                        want = np.uint64(2) if f2 == 2 else np.uint64(15)
                        ts = np.int64(0)
                        while r < b:
                            k3, r2 = _varint(buf, r, b)
                            if r2 < 0:
                                return ERR_BAD_VARINT, r
                            f3 = k3 >> np.uint64(3)
                            w3 = np.int64(k3 & np.uint64(7))
                            if f3 == want and w3 == 0:
                                v, r3 = _varint(buf, r2, b)
                                if r3 < 0:
                                    return ERR_BAD_VARINT, r2
                                ts = np.int64(v)
                                r = r3
                            else:
                                r3 = _skip(buf, r2, b, w3)
                                if r3 < 0:
                                    return -r3, r2
                                r = r3
                        tmin = min(tmin, ts)
                        tmax = max(tmax, ts)
                        if f2 == 2:
                            ns += 1
                        else:
                            nh += 1
                    q = b
                else:
                    if f2 == 3 and w2 == 2:
                        nx += 1
                    q = _skip(buf, q2, e, w2)
            lab_count[si] = li - lab_first[si]
            n_samp[si] = ns
            n_hist[si] = nh
            n_exem[si] = nx
            ts_min[si] = tmin
            ts_max[si] = tmax
            si += 1
            pos = e
        else:
            pos = _skip(buf, p, end, wire)
    return OK, 0


@numba.njit(cache=True, nogil=True)
def _samples(buf, ser_start, ser_end, out_ts, out_bits, out_series):  # pragma: no cover
    """Decode float samples of every series into flat arrays (bits of the doubles)."""
    j = 0
    for si in range(ser_start.shape[0]):
        pos = ser_start[si]
        _, p = _varint(buf, pos, ser_end[si])
        s, e = _len_field(buf, p, ser_end[si])
        q = s
        while q < e:
            k2, q2 = _varint(buf, q, e)
            f2 = k2 >> np.uint64(3)
            w2 = np.int64(k2 & np.uint64(7))
            if f2 == 2 and w2 == 2:
                a, b = _len_field(buf, q2, e)
                r = a
                ts = np.uint64(0)
                bits = np.uint64(0)
                while r < b:
                    k3, r2 = _varint(buf, r, b)
                    f3 = k3 >> np.uint64(3)
                    w3 = np.int64(k3 & np.uint64(7))
                    if f3 == 1 and w3 == 1:
                        bits = np.uint64(0)
                        for i in range(8):
                            bits |= np.uint64(buf[r2 + i]) << np.uint64(8 * i)
                        r = r2 + 8
                    elif f3 == 2 and w3 == 0:
                        ts, r = _varint(buf, r2, b)
                    else:
                        r = _skip(buf, r2, b, w3)
                out_ts[j] = ts
                out_bits[j] = bits
                out_series[j] = si
                j += 1
                q = b
            else:
                q = _skip(buf, q2, e, w2)
    return j


@numba.njit(cache=True, nogil=True)
def _clean(buf, lab_first, lab_count, name_s, name_e, val_s, val_e, out):  # pragma: no cover
    """out[i] = 1 when series i's label names are strictly ascending and no value is empty."""
    for si in range(lab_first.shape[0]):
        ok = 1
        first = lab_first[si]
        for k in range(first, first + lab_count[si]):
            if val_e[k] == val_s[k]:
                ok = 0
                break
            if k > first:
                a_s = name_s[k - 1]
                la = name_e[k - 1] - a_s
                b_s = name_s[k]
                lb = name_e[k] - b_s
                c = 0
                for j in range(min(la, lb)):
                    x = buf[a_s + j]
                    y = buf[b_s + j]
                    if x != y:
                        c = -1 if x < y else 1
                        break
                if c == 0:
                    c = -1 if la < lb else (0 if la == lb else 1)
                if c >= 0:
                    ok = 0
                    break
        out[si] = ok


@dataclass(slots=True)
class ScanResult:
    """Where everything of one ``WriteRequest`` sits in its buffer (offsets into ``buf``)."""

    buf: npt.NDArray[np.uint8]
    ser_start: npt.NDArray[np.int64]
    ser_end: npt.NDArray[np.int64]
    ser_payload: npt.NDArray[np.int64]
    lab_end: npt.NDArray[np.int64]
    lab_first: npt.NDArray[np.int64]
    lab_count: npt.NDArray[np.int64]
    name_s: npt.NDArray[np.int64]
    name_e: npt.NDArray[np.int64]
    val_s: npt.NDArray[np.int64]
    val_e: npt.NDArray[np.int64]
    n_samples: npt.NDArray[np.int64]
    n_histograms: npt.NDArray[np.int64]
    n_exemplars: npt.NDArray[np.int64]
    ts_min: npt.NDArray[np.int64]
    ts_max: npt.NDArray[np.int64]
    meta_start: npt.NDArray[np.int64]
    meta_end: npt.NDArray[np.int64]
    total_samples: int

    def labels_key(self, i: int) -> bytes:
        """Bytes from the start of series ``i`` through its last label: identifies its labels."""
        return self.buf[self.ser_payload[i] : self.lab_end[i]].tobytes()

    def clean_series(self) -> npt.NDArray[np.uint8]:
        """Per series: 1 if labels are sorted, unique and have no empty values."""
        out = np.empty(self.n_series, dtype=np.uint8)
        _clean(self.buf, self.lab_first, self.lab_count, self.name_s, self.name_e,
               self.val_s, self.val_e, out)
        return out

    @property
    def n_series(self) -> int:
        return int(self.ser_start.shape[0])

    def labels_of(self, i: int) -> list[tuple[str, str]]:
        """Label pairs of series ``i`` in wire order (invalid UTF-8 replaced)."""
        raw = self.buf
        first = int(self.lab_first[i])
        out = []
        for k in range(first, first + int(self.lab_count[i])):
            name = bytes(raw[self.name_s[k] : self.name_e[k]]).decode("utf-8", "replace")
            value = bytes(raw[self.val_s[k] : self.val_e[k]]).decode("utf-8", "replace")
            out.append((name, value))
        return out


def scan_write_request(data: bytes | bytearray | memoryview) -> ScanResult:
    """Locate series, labels, samples and metadata in a serialized ``WriteRequest``.

    Raises ``ScanError`` when the bytes are not a well-formed message.
    """
    buf = read_only_bytes(data)  # one compiled signature per kernel
    status, err_pos, n_series, n_labels, n_samples, n_meta = _count(buf)
    if status != OK:
        raise ScanError(f"{_ERROR_TEXT.get(status, 'malformed protobuf')} at byte {err_pos}")
    i64 = np.int64

    def arr(n: int) -> npt.NDArray[np.int64]:
        return np.empty(n, dtype=i64)

    res = ScanResult(
        buf, arr(n_series), arr(n_series), arr(n_series), arr(n_series),
        arr(n_series), arr(n_series), arr(n_labels), arr(n_labels), arr(n_labels), arr(n_labels),
        arr(n_series), arr(n_series), arr(n_series), arr(n_series), arr(n_series),
        arr(n_meta), arr(n_meta), int(n_samples),
    )
    status, err_pos = _fill(
        buf, res.ser_start, res.ser_end, res.ser_payload, res.lab_end,
        res.lab_first, res.lab_count,
        res.name_s, res.name_e, res.val_s, res.val_e,
        res.n_samples, res.n_histograms, res.n_exemplars, res.ts_min, res.ts_max,
        res.meta_start, res.meta_end,
    )
    if status != OK:
        raise ScanError(f"{_ERROR_TEXT.get(status, 'malformed protobuf')} at byte {err_pos}")
    return res


def decode_samples(
    res: ScanResult,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.int32]]:
    """Flat (timestamps, values, series index) of every float sample in scan order."""
    n = res.total_samples
    ts = np.empty(n, dtype=np.uint64)
    bits = np.empty(n, dtype=np.uint64)
    series = np.empty(n, dtype=np.int32)
    got = _samples(res.buf, res.ser_start, res.ser_end, ts, bits, series)
    assert got == n
    return ts.view(np.int64), bits.view(np.float64), series


_K1 = np.uint64(0x87C37B91114253D5)
_K2 = np.uint64(0x4CF5AD432745937F)
_F1 = np.uint64(0xFF51AFD7ED558CCD)
_F2 = np.uint64(0xC4CEB9FE1A85EC53)
_SEED_A = np.uint64(0x9E3779B97F4A7C15)
_SEED_B = np.uint64(0xD6E8FEB86659FD93)


@numba.njit(cache=True, nogil=True)
def _rotl(x, r):  # pragma: no cover - compiled
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


@numba.njit(cache=True, nogil=True)
def _fmix(h):  # pragma: no cover - compiled
    h ^= h >> np.uint64(33)
    h *= _F1
    h ^= h >> np.uint64(33)
    h *= _F2
    h ^= h >> np.uint64(33)
    return h


@numba.njit(cache=True, nogil=True)
def _key_hashes(buf, starts, ends, out):  # pragma: no cover - compiled
    """Two independent 64-bit hashes (MurmurHash3-style lanes) of each ``buf[start:end]``."""
    for i in range(starts.shape[0]):
        a = _SEED_A
        b = _SEED_B
        s = starts[i]
        e = ends[i]
        p = s
        while p < e:
            w = np.uint64(0)
            k = 0
            while k < 8 and p + k < e:
                w |= np.uint64(buf[p + k]) << np.uint64(8 * k)
                k += 1
            p += 8
            ka = _rotl(w * _K1, 31) * _K2
            a = _rotl(a ^ ka, 27) * np.uint64(5) + np.uint64(0x52DCE729)
            kb = _rotl(w * _K2, 33) * _K1
            b = _rotl(b ^ kb, 31) * np.uint64(5) + np.uint64(0x38495AB5)
        n = np.uint64(e - s)
        out[i, 0] = _fmix(a ^ n)
        out[i, 1] = _fmix(b ^ (n * _K1))


def series_key_hashes(res: ScanResult) -> npt.NDArray[np.uint64]:
    """Per series, a 128-bit hash (two uint64 columns) of its label bytes (``labels_key``).

    Lets a head find a known series without building its ``Labels``; two equal
    label encodings always hash equal, and two different ones collide with
    probability about n²/2¹²⁹ (1e-27 for a million series).
    """
    out = np.empty((res.n_series, 2), dtype=np.uint64)
    _key_hashes(res.buf, res.ser_payload, res.lab_end, out)
    return out


@numba.njit(cache=True, nogil=True)
def _utf8_ok(buf, starts, ends):  # pragma: no cover - compiled
    """True if every ``buf[start:end]`` is valid UTF-8 as Python's strict decoder sees it."""
    for r in range(starts.shape[0]):
        p = starts[r]
        e = ends[r]
        while p < e:
            # ASCII runs eight bytes at a time (most label bytes are ASCII).
            while p + 8 <= e and (buf[p] | buf[p + 1] | buf[p + 2] | buf[p + 3] | buf[p + 4]
                                  | buf[p + 5] | buf[p + 6] | buf[p + 7]) < 0x80:
                p += 8
            if p >= e:
                break
            b = buf[p]
            if b < 0x80:
                p += 1
                continue
            if 0xC2 <= b <= 0xDF:
                need, lo, hi = 1, 0x80, 0xBF
            elif b == 0xE0:
                need, lo, hi = 2, 0xA0, 0xBF
            elif b == 0xED:
                need, lo, hi = 2, 0x80, 0x9F
            elif 0xE1 <= b <= 0xEF:
                need, lo, hi = 2, 0x80, 0xBF
            elif b == 0xF0:
                need, lo, hi = 3, 0x90, 0xBF
            elif b == 0xF4:
                need, lo, hi = 3, 0x80, 0x8F
            elif 0xF1 <= b <= 0xF3:
                need, lo, hi = 3, 0x80, 0xBF
            else:
                return False
            if p + need >= e:
                return False
            c = buf[p + 1]
            if c < lo or c > hi:
                return False
            for k in range(2, need + 1):
                c = buf[p + k]
                if c < 0x80 or c > 0xBF:
                    return False
            p += need + 1
    return True


def labels_valid_utf8(res: ScanResult) -> bool:
    """Whether every label name and value of the request is valid UTF-8."""
    return bool(_utf8_ok(res.buf, res.name_s, res.name_e)
                and _utf8_ok(res.buf, res.val_s, res.val_e))
