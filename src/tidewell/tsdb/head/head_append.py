"""Appending a ``SampleBatch`` to a head: vectorised checks, a per-sample path for the rest.

The rules, per series, in batch order:

- timestamp after the series' newest: appended;
- equal to the newest with the same value bits: an idempotent duplicate (a
  replay or client retry), counted but not stored;
- equal with a different value: rejected, ``new-value-for-timestamp``;
- older than the newest, with a stored sample at that timestamp: a duplicate
  if the value bits match (so replaying a record changes nothing), else
  ``new-value-for-timestamp``;
- any timestamp before the head's appendable minimum (``appendable_min_time``,
  Prometheus's ``appendableMinValidTime``: the newest sample of the head before
  this batch minus half a block range, and never before ``min_valid_time``, the
  end of what was cut into blocks) is stored out of order, whatever the window
  (unless a duplicate, as above); when the window would not have taken it
  either it is *late*, counted in ``late``. Prometheus refuses it
  (``ErrOutOfBounds``); here the client had its 2xx once the log took the
  record, so it is kept. Blocks stay correct: a cut writes samples older than
  ``min_valid_time`` into out-of-order blocks of their own ranges, the others
  into the not yet cut range that holds them (``compact``);
- older than the newest otherwise (within the appendable window): rejected
  ``sample-out-of-order`` when the tenant's out-of-order window is 0;
  ``sample-too-old`` if older than the head's newest sample (before this batch)
  minus the window; else stored;
- a new series beyond ``max_series``: rejected, ``per_user_series_limit``.

Series are created on their first sample. Whole batches of in-order samples
(the normal case) never reach the per-sample Python loop, nor do series whose
older samples cannot have a stored twin (a late backlog: ``old_samples``). Two steps:
``resolve_refs`` finds or creates the series (by ``series_keys`` hashes when the
decoder gave them), ``append_refs`` applies the rules; the ingester logs the
resolved samples in between.
"""

from __future__ import annotations

import numpy as np

from tidewell.model.batch import SampleBatch
from tidewell.model.histogram import Histogram
from tidewell.tsdb.head.age import age_verdicts, count_verdict
from tidewell.tsdb.head.errors import AppendResult, Reason
from tidewell.tsdb.head.head import INT64_MAX, INT64_MIN, Head
from tidewell.tsdb.head.hist_store import same_histogram
from tidewell.tsdb.head.old_samples import append_old

__all__ = [
    "append_hist_refs", "append_refs", "appendable_min_time", "resolve_hist_refs", "resolve_refs",
]


def appendable_min_time(head: Head) -> int:
    """Oldest timestamp an in-order sample may have now (Prometheus's ``appendableMinValidTime``).

    ``max(min_valid_time, max_time - block_range / 2)``; a head without samples
    yet only has ``min_valid_time``. Samples older than this are late: stored
    out of order (Prometheus refuses them as out of bounds).
    """
    if head.max_time == INT64_MIN:
        return head.min_valid_time
    return max(head.min_valid_time, head.max_time - head.block_range_ms // 2)


def _window(head: Head, res: AppendResult) -> tuple[int, int]:
    """(max time, appendable minimum) of the head before this batch (kept in ``res``)."""
    if res.window is None:
        res.window = (head.max_time, appendable_min_time(head))
    return res.window


def _resolve_by_labels(
    head: Head, batch: SampleBatch, index: np.ndarray, max_series: int, res: AppendResult
) -> np.ndarray:
    """Series ref of each label set of the batch (-1: refused by the series limit).

    For batches without ``series_keys`` (decoders give them; tests and other
    callers may not): one ``Labels`` lookup per entry.
    """
    used = np.bincount(index, minlength=len(batch.labels)) > 0
    lut = np.full(len(batch.labels), -1, dtype=np.int32)
    get = head.get_ref
    for i, labels in enumerate(batch.labels):
        ref = get(labels)
        if ref is None:
            if not used[i] or (max_series and head.active_series >= max_series):
                continue
            ref = head.create_series(labels)
            res.series_created += 1
        lut[i] = ref
    return lut


def _resolve_by_keys(
    head: Head, batch: SampleBatch, index: np.ndarray, keys: np.ndarray, max_series: int,
    res: AppendResult,
) -> np.ndarray:
    """Like ``_resolve_by_labels``, from the label-bytes hashes: known series cost no Python.

    Only keys the table does not know build their ``Labels`` (a new series, or
    one first seen under this encoding or since a restart).
    """
    lut = head.series_keys.lookup(keys)
    miss = np.flatnonzero(lut < 0)
    if miss.shape[0] == 0:
        return lut
    used = np.bincount(index, minlength=lut.shape[0]) > 0
    get = head.get_ref
    found: list[int] = []
    for i in miss.tolist():
        if not used[i]:
            continue
        labels = batch.labels[i]
        ref = get(labels)
        if ref is None:
            if max_series and head.active_series >= max_series:
                continue
            ref = head.create_series(labels)
            res.series_created += 1
        lut[i] = ref
        found.append(i)
    if found:
        idx = np.array(found, dtype=np.int64)
        head.series_keys.insert(keys[idx], lut[idx])
    return lut


def resolve_refs(
    head: Head, batch: SampleBatch, max_series: int, res: AppendResult
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(refs, timestamps, values) of the batch's samples whose series the head has or took.

    New series are created here (refs ``num_series`` onwards, in order); samples
    of series refused by ``max_series`` are dropped and counted. Caller holds the lock.
    """
    ts = np.asarray(batch.timestamps, dtype=np.int64)
    vals = np.asarray(batch.values, dtype=np.float64)
    if len(batch) == 0:
        return np.empty(0, dtype=np.int32), ts, vals
    refs, keep = _refs_of(head, batch, batch.series_index, max_series, res)
    if keep is not None:
        refs, ts, vals = refs[keep], ts[keep], vals[keep]
    return refs, ts, vals


def _refs_of(
    head: Head, batch: SampleBatch, index: np.ndarray, max_series: int, res: AppendResult
) -> tuple[np.ndarray, np.ndarray | None]:
    """Refs of the samples whose entries ``index`` names, and the mask of those kept
    (None: all), creating series for the entries it uses."""
    keys = batch.series_keys
    if keys is not None and keys.shape[0] == len(batch.labels):
        lut = _resolve_by_keys(head, batch, index, keys, max_series, res)
    else:
        lut = _resolve_by_labels(head, batch, index, max_series, res)
    refs = lut[index]
    limited = refs < 0
    if not limited.any():
        return refs, None
    first = int(index[np.flatnonzero(limited)[0]])
    res.reject(Reason.SERIES_LIMIT, int(limited.sum()), str(batch.labels[first]))
    return refs, ~limited


def resolve_hist_refs(
    head: Head, batch: SampleBatch, max_series: int, res: AppendResult
) -> tuple[np.ndarray, np.ndarray, list[Histogram]]:
    """``resolve_refs`` for the batch's histogram samples (same series creation rule)."""
    ts = np.asarray(batch.hist_timestamps, dtype=np.int64)
    if not batch.histograms:
        return np.empty(0, dtype=np.int32), ts, []
    index = np.asarray(batch.hist_series_index, dtype=np.int32)
    refs, keep = _refs_of(head, batch, index, max_series, res)
    hs = batch.histograms
    if keep is not None:
        refs, ts = refs[keep], ts[keep]
        hs = [h for h, k in zip(hs, keep.tolist(), strict=True) if k]
    return refs, ts, list(hs)


def append_hist_refs(
    head: Head,
    refs: np.ndarray,
    ts: np.ndarray,
    values: list[Histogram],
    ooo_window_ms: int,
    res: AppendResult,
) -> None:
    """Histogram samples of existing series, by the float rules (caller holds the lock).

    One Python step per histogram: they are few. A series' newest timestamp is
    shared by its floats and histograms, as in Prometheus.
    """
    max_time_before, mvt = _window(head, res)
    store = head.hists
    last_ts, first_ts = head.last_ts, head.first_ts
    lo, hi = INT64_MAX, INT64_MIN
    accepted = 0
    verdicts = age_verdicts(ts, max_time_before, ooo_window_ms, mvt).tolist()
    for ref, t, h, verdict in zip(refs.tolist(), ts.tolist(), values, verdicts, strict=True):
        hs = store.get_or_create(ref)
        last = int(last_ts[ref])
        if t > last and t >= mvt:
            hs.append(t, h)
        else:
            existing = hs.value_at(t) if t >= int(first_ts[ref]) else None
            if existing is not None or t == last:
                _count_twin(existing is not None and same_histogram(existing, h), res,
                            head.labels[ref])
                continue
            if not count_verdict(verdict, res, head.labels[ref]):
                continue
            hs.insert_ooo(t, h)
        if t > last:
            last_ts[ref] = t
        if t < int(first_ts[ref]):
            first_ts[ref] = t
        lo, hi = min(lo, t), max(hi, t)
        accepted += 1
    if accepted:
        head.note_times(lo, hi)
        res.accepted += accepted


def append_refs(
    head: Head,
    refs: np.ndarray,
    ts: np.ndarray,
    vals: np.ndarray,
    ooo_window_ms: int,
    res: AppendResult,
) -> None:
    """Apply samples of existing series by the rules above (caller holds ``head.lock``)."""
    # As in Prometheus, the head's max time (and so the appendable window) moves
    # only once the whole batch is in.
    max_time_before, mvt = _window(head, res)
    if refs.shape[0] == 0:
        return
    n = int(refs.shape[0])
    order = np.argsort(refs, kind="stable")
    r, t, v = refs[order], ts[order], vals[order]
    bits = v.view(np.uint64)
    first_in = np.empty(n, dtype=np.bool_)
    first_in[0] = True
    first_in[1:] = r[1:] != r[:-1]
    prev = np.empty(n, dtype=np.int64)
    prev[1:] = t[:-1]
    prev[first_in] = head.last_ts[r[first_in]]
    ok = (t > prev) & (t >= mvt)

    if bool(ok.all()):
        good = ok
        slow_idx = np.empty(0, dtype=np.int64)
    else:
        group = np.cumsum(first_in) - 1
        bad_group = np.zeros(int(group[-1]) + 1, dtype=np.bool_)
        bad_group[group[~ok]] = True
        slow = bad_group[group]
        good = ~slow
        slow_idx = np.flatnonzero(slow)

    # Fast path: whole series whose samples are all in order.
    if bool(good.all()):
        gr, gt, gv, gbits, gfirst = r, t, v, bits, first_in
    else:
        gr, gt, gv, gbits = r[good], t[good], v[good], bits[good]
        gfirst = np.empty(gr.shape[0], dtype=np.bool_)
        if gr.shape[0]:
            gfirst[0] = True
            gfirst[1:] = gr[1:] != gr[:-1]
    if gr.shape[0]:
        glast = np.empty(gr.shape[0], dtype=np.bool_)
        glast[-1] = True
        glast[:-1] = gfirst[1:]
        lr = gr[glast]
        head.last_ts[lr] = gt[glast]
        head.last_bits[lr] = gbits[glast]
        fr = gr[gfirst]
        head.first_ts[fr] = np.minimum(head.first_ts[fr], gt[gfirst])
        head.note_times(int(gt.min()), int(gt.max()))
        res.accepted += int(gr.shape[0])

    if slow_idx.shape[0]:
        sr, st, sb = r[slow_idx], t[slow_idx], bits[slow_idx]
        verdicts = age_verdicts(st, max_time_before, ooo_window_ms, mvt)
        rest = append_old(head, sr, st, sb, verdicts, mvt, res)
        if rest.any():
            _append_slow(head, sr[rest], st[rest], sb[rest], verdicts[rest], mvt, res)
    if gr.shape[0]:
        head.staging.add(gr, gt, gv)


def _append_slow(
    head: Head,
    r: np.ndarray,
    t: np.ndarray,
    bits: np.ndarray,
    verdicts: np.ndarray,
    mvt: int,
    res: AppendResult,
) -> None:
    """Per-sample path for series with duplicates, out-of-order or late samples that
    ``append_old`` left: those that may have a stored twin, or come mixed with in-order ones.

    ``verdicts`` are ``age_verdicts`` of ``t``; ``mvt`` the appendable minimum before the batch."""
    staged = None
    pending: dict[tuple[int, int], int] = {}
    acc_r: list[int] = []
    acc_t: list[int] = []
    acc_b: list[int] = []
    last_ts, last_bits, first_ts = head.last_ts, head.last_bits, head.first_ts
    ooo_max = head.ooo_max_ts
    for ref, ts, b, verdict in zip(r.tolist(), t.tolist(), bits.tolist(), verdicts.tolist(),
                                   strict=True):
        last = int(last_ts[ref])
        if ts > last and ts >= mvt:
            last_ts[ref] = ts
            last_bits[ref] = b
        elif ts == last:
            _count_twin(b == int(last_bits[ref]), res, head.labels[ref])
            continue
        else:
            existing = pending.get((ref, ts))
            if existing is None and ts >= int(first_ts[ref]):
                if staged is None:
                    staged = head.staged_bits(r)
                existing = staged.get((ref, ts))
                if existing is None:
                    existing = head.chunk_bits_at(ref, ts)
            if existing is not None:
                _count_twin(existing == b, res, head.labels[ref])
                continue
            if not count_verdict(verdict, res, head.labels[ref]):
                continue
            if ts > ooo_max[ref]:
                ooo_max[ref] = ts
            if ts > last:  # newer than the series' newest yet late: still
                last_ts[ref] = ts  # its newest (readers find series by it)
                last_bits[ref] = b
        pending[(ref, ts)] = b
        if ts < int(first_ts[ref]):
            first_ts[ref] = ts
        acc_r.append(ref)
        acc_t.append(ts)
        acc_b.append(b)
    if acc_r:
        ta = np.array(acc_t, dtype=np.int64)
        head.note_times(int(ta.min()), int(ta.max()))
        head.staging.add(
            np.array(acc_r, dtype=np.int32),
            ta,
            np.array(acc_b, dtype=np.uint64).view(np.float64),
        )
        res.accepted += len(acc_r)


def _count_twin(same: bool, res: AppendResult, series: object) -> None:
    """A sample at a timestamp its series holds: an idempotent duplicate with the same
    value, else refused (``new-value-for-timestamp``, naming ``series``)."""
    if same:
        res.duplicates += 1
    else:
        res.reject(Reason.DUPLICATE_TIMESTAMP, 1, str(series))
