"""Late backlogs (``old_samples``, the columnar path of old samples) against a model.

Live scrapes move the head on while a backlog of the same series, older than
what the head takes in order, arrives in time order (alone, or in the requests of
live samples: the per-sample path then), now and then re-sent
(an idempotent duplicate) or re-sent with another value (refused), between
truncations and snapshot restores. Each batch's outcome and the head's final
content are the model's, sample by sample.
"""

from __future__ import annotations

import io
import random

import numpy as np
import pytest

from tests.support.ingester import make_batch as batch
from tidewell.model import Labels
from tidewell.tsdb.head import Head, HeadQuerier, Reason
from tidewell.tsdb.head.chunks import MAX_CHUNK_SAMPLES, decode_chunk
from tidewell.tsdb.head.snapshot import load_head, save_head

R = 60_000
STEP = 1_000
INT64_MIN = -(2**63)


def run(seed: int, window: int) -> None:
    rng = random.Random(seed)
    head = Head(R)
    series = [Labels.from_dict({"__name__": "m", "i": str(i)}) for i in range(20)]
    model: dict[Labels, dict[int, float]] = {}
    newest, min_valid = INT64_MIN, INT64_MIN
    live = 100 * R
    backlog = live - 5 * R
    sent: list[tuple[Labels, int, float]] = []
    totals = {"late": 0, "duplicates": 0, "conflicts": 0}
    for step in range(400):
        kind = rng.random()
        if kind < 0.4:  # a live scrape
            live += STEP
            samples = [(ls, live, float(step)) for ls in series[: 5 + step // 25]]
        elif kind < 0.85:  # the backlog goes on, in time order, for some series,
            backlog += STEP  # now and then beside their live samples
            samples = [(ls, backlog, float(-step)) for ls in rng.sample(series, 8)]
            sent.extend(samples)
            if kind > 0.75:
                live += STEP
                samples += [(ls, live, float(step)) for ls, _, _ in samples]
        else:  # re-sent backlog: the same value, or another one
            samples = [(ls, t, v if rng.random() < 0.5 else v + 0.5)
                       for ls, t, v in rng.sample(sent, min(len(sent), 6))]
        res = head.append(batch(samples), ooo_window_ms=window)
        floor = max(min_valid, newest - R // 2) if newest != INT64_MIN else min_valid
        want = {"accepted": 0, "late": 0, "duplicates": 0}
        rejected: dict[Reason, int] = {}
        batch_newest = newest
        for ls, ts, v in samples:
            cur = model.setdefault(ls, {})
            if ts in cur:
                if cur[ts] == v:
                    want["duplicates"] += 1
                else:
                    rejected[Reason.DUPLICATE_TIMESTAMP] = rejected.get(
                        Reason.DUPLICATE_TIMESTAMP, 0) + 1
                continue
            last = max(cur) if cur else INT64_MIN
            in_order = ts > last and ts >= floor
            ooo = window > 0 and (newest == INT64_MIN or ts >= newest - window)
            if in_order or ooo or ts < floor:
                cur[ts] = v
                want["accepted"] += 1
                want["late"] += not in_order and not ooo
                batch_newest = max(batch_newest, ts)
            else:
                reason = Reason.OUT_OF_ORDER if window <= 0 else Reason.TOO_OLD
                rejected[reason] = rejected.get(reason, 0) + 1
        newest = batch_newest
        got = {"accepted": res.accepted, "late": res.late, "duplicates": res.duplicates}
        assert (got, res.rejected) == (want, rejected), step
        totals["late"] += res.late
        totals["duplicates"] += res.duplicates
        totals["conflicts"] += res.rejected.get(Reason.DUPLICATE_TIMESTAMP, 0)
        if step % 60 == 59:  # a cut: everything older than the mark leaves head and model
            mark = live - R
            head.truncate(mark)
            min_valid = max(min_valid, mark)
            for cur in model.values():
                for ts in [ts for ts in cur if ts < mark]:
                    del cur[ts]
        if step % 90 == 89:  # a restart from a snapshot
            bounds = head.ooo_max_ts[:head.num_series].copy()
            buf = io.BytesIO()
            save_head(head, buf)
            buf.seek(0)
            head = load_head(buf)
            # the bound of old samples survives: the backlog stays columnar after a restart
            assert np.array_equal(head.ooo_max_ts[:head.num_series], bounds)
    dumped = {s.labels: dict(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
              for s in HeadQuerier(head, INT64_MIN + 1, 2**62).select([])}
    assert dumped == {ls: cur for ls, cur in model.items() if cur}
    for chunks in head.chunks:  # out-of-order chunks as the per-series cut made them
        for mint, maxt, data in chunks or ():
            ts, _ = decode_chunk(data)
            assert 0 < len(ts) <= MAX_CHUNK_SAMPLES and (ts[0], ts[-1]) == (mint, maxt)
            assert bool(np.all(ts[1:] > ts[:-1]))
    assert totals["late"] > 500 and totals["duplicates"] > 20 and totals["conflicts"] > 20


@pytest.mark.parametrize("seed", [1, 2])
def test_late_backlog_matches_the_model_without_ooo_window(seed: int) -> None:
    run(seed, 0)


def test_late_backlog_matches_the_model_with_ooo_window() -> None:
    run(3, R // 4)


def test_backlog_after_a_restore_still_finds_its_twins() -> None:
    """Re-sent late samples after a restore are still duplicates or conflicts, not stored
    twice (they are not newer than the restored ``ooo_max_ts``)."""
    h = Head(R)
    a = Labels.from_dict({"__name__": "a"})
    now = 100 * R
    h.append(batch([(a, now, 1.0)]))
    h.truncate(now)
    old = [(a, now - 3 * R + i * STEP, float(i)) for i in range(5)]
    assert h.append(batch(old)).late == 5
    buf = io.BytesIO()
    save_head(h, buf)
    buf.seek(0)
    h = load_head(buf)
    res = h.append(batch([*old[:2], (a, old[2][1], 9.0), (a, now - 2 * R, 7.0)]))
    assert (res.accepted, res.late, res.duplicates, res.rejected) == (
        1, 1, 2, {Reason.DUPLICATE_TIMESTAMP: 1})
    (s,) = HeadQuerier(h, INT64_MIN + 1, 2**62).select([])
    assert s.timestamps.tolist() == [t for _, t, _ in old] + [now - 2 * R, now]
    assert np.array_equal(s.values, [0.0, 1.0, 2.0, 3.0, 4.0, 7.0, 1.0])


def test_snapshot_keeps_ooo_max_ts_and_older_snapshots_load_without_it() -> None:
    h = Head(R)
    a, b = Labels.from_dict({"__name__": "a"}), Labels.from_dict({"__name__": "b"})
    now = 100 * R
    h.append(batch([(a, now, 1.0), (b, now, 1.0)]))
    h.truncate(now)
    h.append(batch([(a, now - 3 * R + i * STEP, float(i)) for i in range(5)]))
    buf = io.BytesIO()
    save_head(h, buf)
    buf.seek(0)
    restored = load_head(buf)
    ref_a, ref_b = restored.get_ref(a), restored.get_ref(b)
    assert restored.ooo_max_ts[ref_a] == now - 3 * R + 4 * STEP
    assert restored.ooo_max_ts[ref_b] == INT64_MIN  # b took no old sample: nothing to look up
    # the backlog goes on after the restart: newer than the bound, so no lookup needed
    res = restored.append(batch([(a, now - 2 * R, 7.0)]))
    assert (res.accepted, res.late) == (1, 1)
    assert restored.ooo_max_ts[ref_a] == now - 2 * R
    buf.seek(0)
    with np.load(buf) as z:  # a snapshot written before the bound was saved
        older = {k: z[k] for k in z.files if k != "ooo_max_ts"}
    old_buf = io.BytesIO()
    np.savez(old_buf, **older)
    old_buf.seek(0)
    assert load_head(old_buf).ooo_max_ts[ref_a] == 2**63 - 1  # unknown: per-sample lookups


def test_a_cut_splits_long_out_of_order_runs_into_chunks_of_120() -> None:
    """Late runs of several series, one unsorted, cut at once: chunks of at most 120
    samples each, in time order; the in-order sample staged beside them goes to the
    open chunk."""
    h = Head(R)
    a, b = Labels.from_dict({"__name__": "a"}), Labels.from_dict({"__name__": "b"})
    now = 100 * R
    h.append(batch([(a, now, 1.0), (b, now, 1.0)]))
    h.truncate(now)
    old = now - 3 * R
    late_a = [(a, old + i * 10, float(i)) for i in range(300)]
    late_b = [(b, old + i * 10, float(i)) for i in reversed(range(130))]
    # b's late samples come with an in-order one: the per-sample path, staged unsorted
    res = h.append(batch([*late_a, *late_b, (b, now + 1000, 2.0)]))
    assert (res.accepted, res.late) == (431, 430)
    h.append(batch([(a, now + 1000, 2.0)]))
    h.cut_chunks()
    sizes = {ls: [len(decode_chunk(c[2])[0]) for c in h.chunks[h.get_ref(ls)] or ()]
             for ls in (a, b)}
    assert sizes == {a: [120, 120, 60], b: [120, 10]}
    got = {s.labels: s.timestamps.tolist() for s in HeadQuerier(h, 0, 2**62).select([])}
    assert got == {a: [*(t for _, t, _ in late_a), now, now + 1000],
                   b: [*sorted(t for _, t, _ in late_b), now, now + 1000]}
