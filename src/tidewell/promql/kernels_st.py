"""Counter kernels that honour per-sample start timestamps (ST, "created" time).

Used only when a range selector's series carry start timestamps (``RangeData.sts``);
series without them keep the plain kernels in ``kernels.py``. Semantics follow
Prometheus's ``extrapolatedRate``/``instantValue``/``resets``:

- a sample whose ST moved past the previous sample's time is a counter reset
  (``st_reset``), even when the value did not drop;
- ``rate``/``increase`` assume a zero sample at the first sample's ST when that
  ST lies inside the window, instead of extrapolating to the left (so a single
  sample is enough);
- an ST before the previous sample's time that differs from the previous ST
  overlaps it, which ``rate``/``increase`` report as a warning.

An ST of 0 means unknown, so zeros for series without STs change nothing.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["ST_FUNCS", "run_st", "st_flags", "st_reset", "warm_up"]

_cache = True

ST_FUNCS = ("rate", "increase", "irate", "resets")
"""Range functions whose result depends on start timestamps."""


@njit(cache=_cache, inline="always")
def st_reset(prev_st: int, prev_t: int, cur_st: int, cur_t: int) -> bool:
    """Whether ``cur_st`` says the counter restarted between the two samples."""
    if cur_st == 0 or cur_st >= cur_t:  # unknown, invalid, or OTel's "unknown start" (ST == T)
        return False
    if cur_st < prev_t:
        return False
    if cur_st > prev_t:
        return True
    # ST points at the previous sample: a delta sample if the previous ST was known
    # (and sane); a cumulative series with unknown start otherwise.
    if prev_st > prev_t:
        return False
    return prev_st != 0 and prev_st != prev_t


@njit(cache=_cache, inline="always")
def _overlaps(prev_st: int, prev_t: int, cur_st: int) -> bool:
    return cur_st != 0 and cur_st < prev_t and cur_st != prev_st


@njit(cache=_cache, nogil=True)
def k_extrapolated_st(ts, vals, sts, lo, hi, tt, rng, is_rate, out, ok, overlap):
    for i in range(lo.shape[0]):
        for j in range(lo.shape[1]):
            a, b = lo[i, j], hi[i, j]
            if b - a < 1:
                continue
            first_v = vals[a]
            result = vals[b - 1] - first_v
            for k in range(a + 1, b):
                if not overlap[i] and _overlaps(sts[k - 1], ts[k - 1], sts[k]):
                    overlap[i] = True
                if vals[k] < vals[k - 1] or st_reset(sts[k - 1], ts[k - 1], sts[k], ts[k]):
                    result += vals[k - 1]
            range_end = tt[j]
            range_start = range_end - rng
            first_t, last_t = ts[a], ts[b - 1]
            dur_start = (first_t - range_start) / 1000.0
            dur_end = (range_end - last_t) / 1000.0
            sampled = (last_t - first_t) / 1000.0
            avg_interval = 0.0
            if b - a > 1:
                avg_interval = sampled / (b - a - 1)
            threshold = avg_interval * 1.1
            st0 = sts[a]
            if st0 != 0 and st0 > range_start and st0 < first_t:
                # A zero sample at the first sample's start time replaces extrapolation.
                dur_start = 0.0
                sampled = (last_t - st0) / 1000.0
                result += first_v
            elif b - a == 1:
                continue
            else:
                if dur_start >= threshold:
                    dur_start = avg_interval / 2
                if result > 0 and first_v >= 0:
                    dur_zero = sampled * (first_v / result)
                    if dur_zero < dur_start:
                        dur_start = dur_zero
            if dur_end >= threshold:
                dur_end = avg_interval / 2
            factor = 1.0
            if sampled != 0:
                factor = (sampled + dur_start + dur_end) / sampled
            if is_rate:
                factor /= rng / 1000.0
            out[i, j] = result * factor
            ok[i, j] = True


@njit(cache=_cache, nogil=True)
def k_irate_st(ts, vals, sts, lo, hi, out, ok):
    for i in range(lo.shape[0]):
        for j in range(lo.shape[1]):
            a, b = lo[i, j], hi[i, j]
            if b - a < 2:
                continue
            last, prev = vals[b - 1], vals[b - 2]
            dt = (ts[b - 1] - ts[b - 2]) / 1000.0
            if dt == 0:
                continue
            reset = last < prev or st_reset(sts[b - 2], ts[b - 2], sts[b - 1], ts[b - 1])
            out[i, j] = (last if reset else last - prev) / dt
            ok[i, j] = True


@njit(cache=_cache, nogil=True)
def k_resets_st(ts, vals, sts, lo, hi, out, ok):
    for i in range(lo.shape[0]):
        for j in range(lo.shape[1]):
            a, b = lo[i, j], hi[i, j]
            if b <= a:
                continue
            n = 0
            for k in range(a + 1, b):
                if vals[k] < vals[k - 1] or st_reset(sts[k - 1], ts[k - 1], sts[k], ts[k]):
                    n += 1
            out[i, j] = n
            ok[i, j] = True


@njit(cache=_cache, nogil=True)
def k_st_flags(ts, sts, reset, overlap):
    for k in range(1, ts.shape[0]):
        reset[k] = st_reset(sts[k - 1], ts[k - 1], sts[k], ts[k])
        overlap[k] = _overlaps(sts[k - 1], ts[k - 1], sts[k])


def st_flags(ts: np.ndarray, sts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per sample of one series: whether its ST says the counter restarted after the
    previous sample, and whether it overlaps the previous sample (index 0: False).
    For paths that walk samples in Python (histograms): one compiled pass instead of
    a call per pair."""
    reset = np.zeros(len(ts), dtype=np.bool_)
    overlap = np.zeros(len(ts), dtype=np.bool_)
    if len(ts) > 1:
        k_st_flags(ts, sts, reset, overlap)
    return reset, overlap


def run_st(name: str, ts: np.ndarray, vals: np.ndarray, sts: np.ndarray, lo: np.ndarray,
           hi: np.ndarray, tt: np.ndarray, rng: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply ``name`` (one of ``ST_FUNCS``) to every window.

    Returns ``(values, present, overlap)``; ``overlap[i]`` marks series ``i`` as
    having a start time overlapping the previous sample (rate/increase only).
    """
    out = np.zeros(lo.shape, dtype=np.float64)
    ok = np.zeros(lo.shape, dtype=np.bool_)
    overlap = np.zeros(lo.shape[0], dtype=np.bool_)
    if lo.size:
        if name in ("rate", "increase"):
            k_extrapolated_st(ts, vals, sts, lo, hi, tt, rng, name == "rate", out, ok, overlap)
        elif name == "irate":
            k_irate_st(ts, vals, sts, lo, hi, out, ok)
        elif name == "resets":
            k_resets_st(ts, vals, sts, lo, hi, out, ok)
        else:
            raise ValueError(f"{name} does not use start timestamps")
    return out, ok, overlap


def warm_up() -> None:
    """Load (or compile) the ST kernels once."""
    ts = np.arange(4, dtype=np.int64) * 1000 + 1000
    vals = np.arange(4, dtype=np.float64)
    sts = np.zeros(4, dtype=np.int64)
    lo = np.zeros((1, 1), dtype=np.int64)
    hi = np.full((1, 1), 4, dtype=np.int64)
    tt = np.array([5000], dtype=np.int64)
    for name in ST_FUNCS:
        run_st(name, ts, vals, sts, lo, hi, tt, 5000)
    st_flags(ts, sts)
    st_reset(0, 0, 0, 0)
