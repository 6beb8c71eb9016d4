"""One decision for samples older than their series' newest: what their age makes of them.

Floats (``head_append``) and histograms are judged alike, by the head's window
before the batch: within the out-of-order window, stored out of order; below
the appendable minimum (Prometheus's out of bounds, already acknowledged by the
log), stored out of order and counted ``late``; else refused,
``sample-out-of-order`` without a window, ``sample-too-old`` with one. The
verdict depends on the timestamp and the batch's constants only, so a whole
batch is judged in one array operation.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tidewell.tsdb.head.errors import AppendResult, Reason
from tidewell.tsdb.head.open_chunks import INT64_MIN

__all__ = ["LATE", "OUT_OF_ORDER", "TOO_OLD", "WINDOW", "age_verdicts", "count_verdict"]

WINDOW, LATE, OUT_OF_ORDER, TOO_OLD = 0, 1, 2, 3
"""Verdicts: the first two store the sample, the others refuse it with their ``Reason``."""
_REASONS = {OUT_OF_ORDER: Reason.OUT_OF_ORDER, TOO_OLD: Reason.TOO_OLD}


def age_verdicts(
    ts: npt.NDArray[np.int64], newest: int, window: int, min_valid: int
) -> npt.NDArray[np.int8]:
    """Verdict of each timestamp: ``newest`` and ``min_valid`` (the appendable minimum)
    are the head's before the batch, ``window`` its out-of-order window (ms, 0: none)."""
    out = np.full(ts.shape[0], OUT_OF_ORDER if window <= 0 else TOO_OLD, dtype=np.int8)
    out[ts < min_valid] = LATE
    if window > 0:
        out[ts >= max(newest - window, INT64_MIN)] = WINDOW
    return out


def count_verdict(verdict: int, res: AppendResult, series: object) -> bool:
    """Count one sample's verdict in ``res``; True if the sample is to be stored.
    ``series`` (its labels) names it in a refusal."""
    if verdict == LATE:
        res.late += 1
    elif verdict != WINDOW:
        res.reject(_REASONS[verdict], 1, str(series))
        return False
    return True
