"""Compiled per-series checks and hashing over the offsets found by ``protocol.wire``.

One pass over the label bytes of a whole request does what Mimir's
``validateLabels`` and ``ShardByAllLabelAdapters`` do per series: it spots
labels that need fixing (unsorted, empty values), classifies the first
validation failure and computes the 32-bit FNV-1 token of tenant + labels.
Python formats messages only for the (few) failing series.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

from tidewell.protocol.wire import ScanResult

__all__ = ["FNV_OFFSET32", "fnv1_32", "series_checks"]

FNV_OFFSET32 = 2166136261
FNV_PRIME32 = 16777619

# Validation codes, in the order Mimir's validateLabels checks them.
V_OK = 0
V_MISSING_METRIC_NAME = 1
V_INVALID_METRIC_NAME = 2
V_MAX_LABEL_NAMES = 3
V_MAX_LABEL_NAMES_INFO = 4
V_INVALID_LABEL = 5
V_LABEL_NAME_TOO_LONG = 6
V_INVALID_LABEL_VALUE = 7
V_LABEL_VALUE_TOO_LONG = 8
V_DUPLICATE_LABEL_NAMES = 9

# Fix flags: the series' labels must be rewritten before validation.
FIX_UNSORTED = 1
FIX_EMPTY_VALUE = 2


def fnv1_32(data: bytes, h: int = FNV_OFFSET32) -> int:
    """FNV-1 (multiply, then xor) over ``data``, continuing from ``h``."""
    for b in data:
        h = ((h * FNV_PRIME32) & 0xFFFFFFFF) ^ b
    return h


@numba.njit(cache=True, nogil=True)
def _utf8_valid(buf, s, e):  # pragma: no cover - compiled
    i = s
    while i < e:
        c = buf[i]
        if c < 0x80:
            i += 1
            continue
        if 0xC2 <= c <= 0xDF:
            n = 1
        elif 0xE0 <= c <= 0xEF:
            n = 2
        elif 0xF0 <= c <= 0xF4:
            n = 3
        else:
            return False
        if i + n >= e:
            return False
        c1 = buf[i + 1]
        if c == 0xE0 and c1 < 0xA0:
            return False
        if c == 0xED and c1 > 0x9F:
            return False
        if c == 0xF0 and c1 < 0x90:
            return False
        if c == 0xF4 and c1 > 0x8F:
            return False
        for k in range(1, n + 1):
            if (buf[i + k] & 0xC0) != 0x80:
                return False
        i += n + 1
    return True


@numba.njit(cache=True, nogil=True)
def _name_char(c, first, metric):  # pragma: no cover - compiled
    if (c >= 97 and c <= 122) or (c >= 65 and c <= 90) or c == 95:
        return True
    if metric and c == 58:
        return True
    return (not first) and c >= 48 and c <= 57


@numba.njit(cache=True, nogil=True)
def _valid_name(buf, s, e, metric, utf8):  # pragma: no cover - compiled
    """Mimir's ``IsValidMetricName``/``IsValidLabelName`` under the tenant's scheme.

    UTF-8 scheme: any non-empty valid UTF-8. Legacy: ``[a-zA-Z_:][a-zA-Z0-9_:]*``
    (no ``:`` in label names).
    """
    if e <= s:
        return False
    if utf8:
        return _utf8_valid(buf, s, e)
    for i in range(s, e):  # noqa: SIM110 - numba cannot compile generator expressions
        if not _name_char(buf[i], i == s, metric):
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _cmp(buf, a_s, a_e, b_s, b_e):  # pragma: no cover - compiled
    """Bytewise compare (Go string order): -1, 0, 1."""
    la = a_e - a_s
    lb = b_e - b_s
    n = min(la, lb)
    for i in range(n):
        x = buf[a_s + i]
        y = buf[b_s + i]
        if x != y:
            return -1 if x < y else 1
    if la == lb:
        return 0
    return -1 if la < lb else 1


@numba.njit(cache=True, nogil=True)
def _checks(
    buf, lab_first, lab_count, name_s, name_e, val_s, val_e, seed,
    max_names, max_info_names, max_name_len, max_value_len, utf8_names,
    fix, code, bad_label, token,
):  # pragma: no cover - compiled
    metric_name = np.array([95, 95, 110, 97, 109, 101, 95, 95], dtype=np.uint8)  # "__name__"
    info = np.array([95, 105, 110, 102, 111], dtype=np.uint8)  # "_info"
    for si in range(lab_first.shape[0]):
        first = lab_first[si]
        count = lab_count[si]
        # Fixes first (Mimir sorts and drops empty values before validating).
        f = 0
        for k in range(first, first + count):
            if val_e[k] == val_s[k]:
                f |= FIX_EMPTY_VALUE
            if k > first and _cmp(buf, name_s[k - 1], name_e[k - 1], name_s[k], name_e[k]) > 0:
                f |= FIX_UNSORTED
        fix[si] = f
        # Token: FNV-1 over tenant (seed) then every name and value.
        h = np.uint64(seed)
        for k in range(first, first + count):
            for i in range(name_s[k], name_e[k]):
                h = ((h * np.uint64(FNV_PRIME32)) & np.uint64(0xFFFFFFFF)) ^ np.uint64(buf[i])
            for i in range(val_s[k], val_e[k]):
                h = ((h * np.uint64(FNV_PRIME32)) & np.uint64(0xFFFFFFFF)) ^ np.uint64(buf[i])
        token[si] = np.uint32(h)
        # Validation.
        c = V_OK
        bad = -1
        mk = -1
        for k in range(first, first + count):
            if name_e[k] - name_s[k] == 8:
                same = True
                for i in range(8):
                    if buf[name_s[k] + i] != metric_name[i]:
                        same = False
                        break
                if same:
                    mk = k
                    break
        if mk < 0:
            c = V_MISSING_METRIC_NAME
        elif not _valid_name(buf, val_s[mk], val_e[mk], True, utf8_names):
            c = V_INVALID_METRIC_NAME
            bad = mk
        elif count > max_names:
            is_info = val_e[mk] - val_s[mk] >= 5
            if is_info:
                for i in range(5):
                    if buf[val_e[mk] - 5 + i] != info[i]:
                        is_info = False
                        break
            if not is_info:
                c = V_MAX_LABEL_NAMES
            elif count > max_info_names:
                c = V_MAX_LABEL_NAMES_INFO
        if c == V_OK:
            for k in range(first, first + count):
                if not _valid_name(buf, name_s[k], name_e[k], False, utf8_names):
                    c = V_INVALID_LABEL
                elif name_e[k] - name_s[k] > max_name_len:
                    c = V_LABEL_NAME_TOO_LONG
                elif not _utf8_valid(buf, val_s[k], val_e[k]):
                    c = V_INVALID_LABEL_VALUE
                elif val_e[k] - val_s[k] > max_value_len:
                    c = V_LABEL_VALUE_TOO_LONG
                elif k > first and _cmp(
                    buf, name_s[k - 1], name_e[k - 1], name_s[k], name_e[k]
                ) == 0:
                    c = V_DUPLICATE_LABEL_NAMES
                if c != V_OK:
                    bad = k
                    break
        code[si] = c
        bad_label[si] = bad


def series_checks(
    res: ScanResult,
    tenant: str,
    *,
    max_label_names: int,
    max_label_names_info: int,
    max_label_name_length: int,
    max_label_value_length: int,
    utf8_names: bool = True,
) -> tuple[
    npt.NDArray[np.uint8], npt.NDArray[np.uint8], npt.NDArray[np.int64], npt.NDArray[np.uint32]
]:
    """Per series: (fix flags, validation code, index of the offending label, token).

    ``utf8_names`` selects the name validation scheme (``utf8`` or ``legacy``).
    """
    n = res.n_series
    fix = np.empty(n, dtype=np.uint8)
    code = np.empty(n, dtype=np.uint8)
    bad = np.empty(n, dtype=np.int64)
    token = np.empty(n, dtype=np.uint32)
    _checks(
        res.buf, res.lab_first, res.lab_count, res.name_s, res.name_e, res.val_s, res.val_e,
        fnv1_32(tenant.encode()), max_label_names, max_label_names_info,
        max_label_name_length, max_label_value_length, utf8_names, fix, code, bad, token,
    )
    return fix, code, bad, token
