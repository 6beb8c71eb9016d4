"""The head's appendable window, as Prometheus's ``appendableMinValidTime``."""

from __future__ import annotations

import numpy as np

from tests.support.ingester import make_batch as batch
from tidewell.model import Histogram, Labels, SampleBatch
from tidewell.tsdb.head import Head, HeadQuerier, Reason
from tidewell.tsdb.head.head_append import appendable_min_time

R = 7_200_000  # 2h blocks: the window reaches back 1h from the head's newest sample
A = Labels.from_dict({"__name__": "a"})
B = Labels.from_dict({"__name__": "b"})


def test_empty_head_accepts_any_time_then_the_window_follows_the_newest_sample() -> None:
    h = Head(R)
    assert appendable_min_time(h) == h.min_valid_time
    assert h.append(batch([(A, 10 * R, 1.0)])).accepted == 1
    assert appendable_min_time(h) == 10 * R - R // 2
    h.truncate(10 * R + 60_000)  # as after a cut: min_valid_time wins when newer
    h.append(batch([(A, 10 * R + 120_000, 1.0)]))
    assert appendable_min_time(h) == 10 * R + 60_000


def dump(h: Head) -> dict[Labels, list[tuple[int, float]]]:
    return {s.labels: list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
            for s in HeadQuerier(h, -(2**62), 2**62).select([])}


def test_samples_below_the_window_are_late_and_stored_out_of_order() -> None:
    """Prometheus refuses them (ErrOutOfBounds); the log already acknowledged them, so
    the head keeps them, for a new series and for one with newer samples, and counts
    them ``late``. Before, they were discarded as ``sample-timestamp-too-old``."""
    h = Head(R)
    now = 100 * R
    h.append(batch([(A, now, 1.0)]))
    old = now - 3 * 86_400_000
    res = h.append(batch([(B, old, 1.0), (B, now - R // 2 - 1, 2.0), (A, old, 3.0)]))
    assert (res.accepted, res.late, res.rejected) == (3, 3, {})
    res = h.append(batch([(B, now - R // 2, 4.0)]))  # the window's edge is inside
    assert (res.accepted, res.late, res.rejected) == (1, 0, {})
    assert dump(h) == {A: [(old, 3.0), (now, 1.0)],
                       B: [(old, 1.0), (now - R // 2 - 1, 2.0), (now - R // 2, 4.0)]}
    # Appending a late sample again is an idempotent duplicate; another value conflicts.
    res = h.append(batch([(A, old, 3.0), (B, old, 9.0)]))
    assert (res.accepted, res.duplicates, res.rejected) == (0, 1, {Reason.DUPLICATE_TIMESTAMP: 1})


def test_out_of_order_within_the_window_is_still_refused_without_ooo_window() -> None:
    """Only age changed: a sample inside the appendable window but older than its
    series' newest stays ``sample-out-of-order`` (window 0), as Prometheus and Mimir."""
    h = Head(R)
    now = 100 * R
    h.append(batch([(A, now, 1.0)]))
    res = h.append(batch([(A, now - 1000, 2.0)]))
    assert (res.accepted, res.rejected) == (0, {Reason.OUT_OF_ORDER: 1})


def test_the_window_is_the_heads_before_the_batch() -> None:
    """A batch is judged by the window when it began (one Prometheus appender)."""
    h = Head(R)
    h.append(batch([(A, 0, 1.0)]))
    res = h.append(batch([(A, 10 * R, 1.0), (B, 1000, 1.0)]))
    assert res.accepted == 2 and res.late == 0 and not res.rejected
    res = h.append(batch([(B, 2000, 1.0)]))
    assert res.accepted == 1 and res.late == 1


def test_out_of_order_window_takes_what_is_in_it_and_the_rest_is_late() -> None:
    h = Head(R)
    now = 100 * R
    h.append(batch([(A, now, 1.0)]))
    window = 3 * R
    res = h.append(batch([(B, now - 2 * R, 1.0), (B, now - 4 * R, 2.0)]), ooo_window_ms=window)
    assert (res.accepted, res.late, res.rejected) == (2, 1, {})


def test_too_old_stays_for_out_of_order_samples_inside_the_appendable_window() -> None:
    """A window shorter than half a range: older than its series' newest and than the
    window, yet newer than the appendable minimum, is ``sample-too-old`` (as Mimir)."""
    h = Head(R)
    now = 100 * R
    h.append(batch([(A, now, 1.0)]))
    res = h.append(batch([(A, now - R // 4, 2.0), (A, now - R, 3.0)]), ooo_window_ms=60_000)
    assert (res.accepted, res.late, res.rejected) == (1, 1, {Reason.TOO_OLD: 1})


def test_histograms_have_the_same_window_as_floats_of_their_batch() -> None:
    h = Head(R)
    now = 100 * R
    h.append(batch([(A, now, 1.0)]))
    hist = Histogram(count=1, sum=1.0, schema=0, positive_spans=((0, 1),),
                     positive_buckets=(1,), integer=True)
    b = SampleBatch([A, B], np.array([0], dtype=np.int32), np.array([now + R], dtype=np.int64),
                    np.ones(1), hist_series_index=np.array([1, 1], dtype=np.int32),
                    hist_timestamps=np.array([now - R, now - R // 4], dtype=np.int64),
                    histograms=[hist, hist])
    res = h.append(b)
    # The float moves the head to now + R, but the histograms are judged by the window
    # before the batch (now - R/2): the first is late (stored), the second in order.
    assert (res.accepted, res.late, res.rejected) == (3, 1, {})
    res = h.append(b)  # the same again: all duplicates, the late histogram too
    assert (res.accepted, res.duplicates, res.rejected) == (0, 3, {})
    (s,) = HeadQuerier(h, 0, 2**62).select([_name("b")])
    assert s.histograms is not None
    assert s.histograms.timestamps.tolist() == [now - R, now - R // 4]


def test_series_with_only_out_of_order_samples_is_queryable() -> None:
    """Samples newer than their series' newest but older than the window (taken by the
    out-of-order window) make that series' newest: readers find series by it."""
    h = Head(R)
    now = 100 * R
    h.append(batch([(A, now, 1.0)]))
    res = h.append(batch([(B, now - R, 7.0)]), ooo_window_ms=2 * R)
    assert res.accepted == 1
    (s,) = HeadQuerier(h, now - 2 * R, now).select([_name("b")])
    assert s.timestamps.tolist() == [now - R] and s.values.tolist() == [7.0]


def _name(value: str):  # type: ignore[no-untyped-def]
    from tidewell.model import Matcher, MatchType

    return Matcher(MatchType.EQUAL, "__name__", value)
