"""Where to cut a series' samples into chunks, exactly as Prometheus's head does.

The head starts a chunk with a deadline at the end of the current chunk range
(the block range, 2h), and once the chunk holds a quarter of the target
samples (30 of 120) moves the deadline so that the rest of the range splits
into equally full chunks. A chunk is also cut at twice the target. Doing the
same here makes our blocks chunk-for-chunk (and byte-for-byte) identical to
the ones Prometheus and Mimir write for the same samples.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["DEFAULT_CHUNK_RANGE_MS", "DEFAULT_SAMPLES_PER_CHUNK", "chunk_bounds"]

DEFAULT_SAMPLES_PER_CHUNK = 120
DEFAULT_CHUNK_RANGE_MS = 2 * 3600 * 1000


def _go_div(a: int, b: int) -> int:
    """Go's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def range_end(t: int, width: int) -> int:
    """``rangeForTimestamp``: end of the aligned range holding ``t``."""
    return _go_div(t, width) * width + width


def compute_chunk_end(start: int, cur: int, max_t: int) -> int:
    """Deadline making the rest of the range hold equally sized chunks."""
    n = _go_div(max_t - start, (cur - start + 1) * 4)
    if n <= 1:
        return max_t
    return start + _go_div(max_t - start, n)


def chunk_bounds(
    ts: npt.NDArray[np.int64],
    samples_per_chunk: int = DEFAULT_SAMPLES_PER_CHUNK,
    chunk_range: int = DEFAULT_CHUNK_RANGE_MS,
) -> list[tuple[int, int]]:
    """``[lo, hi)`` index ranges of the chunks for sorted timestamps ``ts``."""
    n = int(ts.shape[0])
    quarter = samples_per_chunk // 4
    out: list[tuple[int, int]] = []
    i = 0
    while i < n:
        start = int(ts[i])
        next_at = range_end(start, chunk_range)
        cap = min(n, i + 2 * samples_per_chunk)
        hi = int(ts.searchsorted(next_at))
        if hi >= i + quarter and n > i + quarter and quarter > 0:
            # The deadline moves when the (quarter+1)-th sample arrives.
            next_at = compute_chunk_end(start, int(ts[i + quarter - 1]), next_at)
            hi = max(int(ts.searchsorted(next_at)), i + quarter)
        hi = max(min(hi, cap), i + 1)
        out.append((i, hi))
        i = hi
    return out
