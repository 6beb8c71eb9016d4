"""Samples older than their series' newest, appended in array operations when nothing is in doubt.

The per-sample path of ``head_append`` looks up, sample by sample, whether the
series already stores the timestamp (a duplicate or ``new-value-for-timestamp``)
and then judges its age. A backlog of late samples (older than the appendable
minimum, arriving through the log after a block cut) is the common case of
old samples: for most of them no lookup is needed, because a series cannot
store a sample

- older than its first (``first_ts``) or newer than its newest (``last_ts``);
- older than ``min_valid_time`` yet newer than ``ooo_max_ts``: samples below
  ``min_valid_time`` all came out of order (in-order ones are never below the
  appendable minimum, and truncation removes everything below the new floor),
  and ``ooo_max_ts`` bounds those.

A series whose samples in the batch are all such, with distinct timestamps, none
in order and none refused by age, is appended here with the per-sample path's
outcome (stored, counted ``late`` or not, its newest moved when a sample is newer);
the others stay for the per-sample path.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tidewell.tsdb.head.age import LATE
from tidewell.tsdb.head.errors import AppendResult
from tidewell.tsdb.head.head import Head

__all__ = ["append_old"]


def append_old(
    head: Head,
    r: npt.NDArray[np.int32],
    t: npt.NDArray[np.int64],
    bits: npt.NDArray[np.uint64],
    verdicts: npt.NDArray[np.int8],
    mvt: int,
    res: AppendResult,
) -> npt.NDArray[np.bool_]:
    """Append the series of ``r`` (ascending, batch order within a series) that need no
    lookup; return the mask of the samples left for the per-sample path.

    ``verdicts`` are ``age_verdicts`` of ``t``; ``mvt`` the appendable minimum before
    the batch. Caller holds the lock.
    """
    n = int(r.shape[0])
    last = head.last_ts[r]
    fit = (t < head.first_ts[r]) | (t > last)
    fit |= (t < head.min_valid_time) & (t > head.ooo_max_ts[r])
    fit &= (verdicts <= LATE) & (t < np.maximum(last, mvt))  # stored, and not in order
    order = np.lexsort((t, r))  # by series, then time: twins in the batch are neighbours
    rs, ts = r[order], t[order]
    twin = (rs[1:] == rs[:-1]) & (ts[1:] == ts[:-1])
    fit[order[1:][twin]] = False
    starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
    whole = np.repeat(np.logical_and.reduceat(fit, starts), np.diff(np.r_[starts, n]))
    if not whole.any():
        return ~whole
    take = whole[order]  # the series taken, by series and time: newest last
    sr, st, sb = rs[take], ts[take], bits[order][take]
    firsts = np.flatnonzero(np.r_[True, sr[1:] != sr[:-1]])
    lasts = np.r_[firsts[1:] - 1, sr.shape[0] - 1]
    refs = sr[firsts]
    head.first_ts[refs] = np.minimum(head.first_ts[refs], st[firsts])
    newer = st[lasts] > head.last_ts[refs]
    head.last_ts[refs[newer]] = st[lasts][newer]
    head.last_bits[refs[newer]] = sb[lasts][newer]
    head.ooo_max_ts[refs] = np.maximum(head.ooo_max_ts[refs], st[lasts])
    head.note_times(int(st.min()), int(st.max()))
    head.staging.add(sr, st, sb.view(np.float64))
    res.accepted += int(sr.shape[0])
    res.late += int(np.count_nonzero(verdicts[whole] == LATE))
    return ~whole
