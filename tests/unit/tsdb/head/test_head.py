"""The head's append rules, index and querier, checked against a plain-Python model."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tests.support.ingester import make_batch as batch
from tidewell.model import Labels, Matcher, MatchType, SampleBatch, stale_nan
from tidewell.model.samples import stale_mask
from tidewell.tsdb.head import Head, HeadQuerier, Reason
from tidewell.tsdb.head.chunks import chunk_samples, decode_chunk, encode_chunk
from tidewell.tsdb.head.postings import MemPostings

ALL = (-(2**62), 2**62)


def lbl(**kv: str) -> Labels:
    return Labels.from_dict(kv)


def dump(head: Head, mint: int = ALL[0], maxt: int = ALL[1]) -> dict[Labels, list]:
    return {
        s.labels: list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
        for s in HeadQuerier(head, mint, maxt).select([])
    }


A = lbl(__name__="up", job="a")
B = lbl(__name__="up", job="b")


def test_chunk_roundtrip_keeps_bits_including_stale_nan() -> None:
    ts = np.array([-5, 0, 15_000, 30_001, 45_000], dtype=np.int64)
    vals = np.array([1.5, np.nan, stale_nan(), -0.0, 1e300])
    got_t, got_v = decode_chunk(encode_chunk(ts, vals))
    assert got_t.tolist() == ts.tolist()
    assert got_v.view(np.uint64).tolist() == vals.view(np.uint64).tolist()


def test_series_created_on_first_sample_and_queryable() -> None:
    h = Head()
    res = h.append(batch([(A, 1000, 1.0), (B, 1000, 2.0), (A, 2000, 3.0)]))
    assert (res.accepted, res.series_created, res.rejected) == (3, 2, {})
    assert h.num_series == 2
    assert dump(h) == {A: [(1000, 1.0), (2000, 3.0)], B: [(1000, 2.0)]}
    assert dump(h, 1500, 2500) == {A: [(2000, 3.0)]}


def test_out_of_order_rejected_when_window_is_zero() -> None:
    h = Head()
    h.append(batch([(A, 2000, 1.0)]))
    res = h.append(batch([(A, 1000, 5.0), (B, 1000, 1.0)]))
    assert res.rejected == {Reason.OUT_OF_ORDER: 1}
    assert "err-mimir-sample-out-of-order" in res.first_error
    assert res.accepted == 1
    assert dump(h) == {A: [(2000, 1.0)], B: [(1000, 1.0)]}


def test_out_of_order_accepted_within_window_and_too_old_outside() -> None:
    h = Head()
    h.append(batch([(A, 100_000, 1.0)]))
    res = h.append(batch([(A, 50_000, 2.0), (A, 10_000, 3.0)]), ooo_window_ms=60_000)
    assert res.accepted == 1
    assert res.rejected == {Reason.TOO_OLD: 1}
    assert dump(h) == {A: [(50_000, 2.0), (100_000, 1.0)]}


def test_duplicates_are_idempotent_and_new_value_for_timestamp_rejected() -> None:
    h = Head()
    first = batch([(A, 1000, 1.0), (A, 2000, 2.0), (B, 1000, 7.0)])
    h.append(first)
    before = dump(h)
    res = h.append(first)  # a replay of the same request
    assert (res.accepted, res.duplicates, res.rejected) == (0, 3, {})
    res = h.append(batch([(A, 2000, 9.0)]))
    assert res.rejected == {Reason.DUPLICATE_TIMESTAMP: 1}
    assert dump(h) == before


def test_duplicate_of_out_of_order_sample_within_window() -> None:
    h = Head()
    h.append(batch([(A, 1000, 1.0), (A, 3000, 3.0)]))
    res = h.append(batch([(A, 2000, 2.0)]), ooo_window_ms=10_000)
    assert res.accepted == 1
    res = h.append(batch([(A, 2000, 2.0), (A, 1000, 1.0), (A, 2000, 5.0)]), ooo_window_ms=10_000)
    assert (res.accepted, res.duplicates, res.rejected) == (0, 2, {Reason.DUPLICATE_TIMESTAMP: 1})
    h.cut_chunks(everything=True)
    res = h.append(batch([(A, 1000, 1.0), (A, 1000, 8.0)]), ooo_window_ms=10_000)
    assert (res.duplicates, res.rejected) == (1, {Reason.DUPLICATE_TIMESTAMP: 1})
    assert dump(h) == {A: [(1000, 1.0), (2000, 2.0), (3000, 3.0)]}


def test_stale_markers_are_kept_bit_exact() -> None:
    h = Head()
    h.append(batch([(A, 1000, 1.0), (A, 2000, stale_nan())]))
    h.cut_chunks(everything=True)
    (s,) = HeadQuerier(h, *ALL).select([])
    assert stale_mask(s.values).tolist() == [False, True]
    res = h.append(batch([(A, 2000, stale_nan())]))
    assert res.duplicates == 1
    res = h.append(batch([(A, 2000, 5.0)]))
    assert res.rejected == {Reason.DUPLICATE_TIMESTAMP: 1}


def test_series_limit_rejects_new_series_only() -> None:
    h = Head()
    h.append(batch([(A, 1000, 1.0)]), max_series=1)
    res = h.append(batch([(A, 2000, 1.0), (B, 2000, 1.0), (B, 3000, 1.0)]), max_series=1)
    assert res.accepted == 1
    assert res.rejected == {Reason.SERIES_LIMIT: 2}
    assert "max-global-series-per-user" in res.first_error
    assert h.num_series == 1


def test_older_than_the_truncation_mark_is_late_and_kept() -> None:
    h = Head()
    h.min_valid_time = 5000
    res = h.append(batch([(A, 1000, 1.0), (B, 6000, 1.0)]))
    assert (res.accepted, res.late, res.rejected) == (2, 1, {})
    assert dump(h) == {A: [(1000, 1.0)], B: [(6000, 1.0)]}


@pytest.mark.parametrize(
    ("matchers", "want"),
    [
        ([Matcher(MatchType.EQUAL, "job", "a")], ["a0", "a1"]),
        ([Matcher(MatchType.NOT_EQUAL, "job", "a")], ["b0", "none"]),
        ([Matcher(MatchType.NOT_REGEX, "job", "")], ["a0", "a1", "b0"]),
        ([Matcher(MatchType.REGEX, "job", "a|b")], ["a0", "a1", "b0"]),
        ([Matcher(MatchType.REGEX, "job", "a|")], ["a0", "a1", "none"]),
        ([Matcher(MatchType.NOT_REGEX, "job", "b.*")], ["a0", "a1", "none"]),
        ([Matcher(MatchType.EQUAL, "job", "")], ["none"]),
        ([Matcher(MatchType.NOT_EQUAL, "job", "")], ["a0", "a1", "b0"]),
        ([Matcher(MatchType.REGEX, "job", ".+"), Matcher(MatchType.EQUAL, "i", "1")], ["a1"]),
        ([Matcher(MatchType.EQUAL, "nope", "x")], []),
    ],
)
def test_matchers_follow_prometheus_semantics(matchers: list[Matcher], want: list[str]) -> None:
    h = Head()
    series = {
        "a0": lbl(__name__="m", job="a", i="0", n="a0"),
        "a1": lbl(__name__="m", job="a", i="1", n="a1"),
        "b0": lbl(__name__="m", job="b", i="0", n="b0"),
        "none": lbl(__name__="m", i="2", n="none"),
    }
    h.append(batch([(ls, 1000, 1.0) for ls in series.values()]))
    result = HeadQuerier(h, *ALL).select(matchers)
    assert sorted(s.labels.get("n") for s in result) == want
    assert [s.labels for s in result] == sorted(s.labels for s in result)


def test_label_names_and_values_respect_range_and_matchers() -> None:
    h = Head()
    h.append(batch([(lbl(__name__="m", job="a", x="1"), 1000, 1.0)]))
    h.append(batch([(lbl(__name__="m", job="b"), 9000, 1.0)]))
    q = HeadQuerier(h, 0, 20_000)
    assert q.label_names() == ["__name__", "job", "x"]
    assert q.label_values("job") == ["a", "b"]
    late = HeadQuerier(h, 5000, 20_000)
    assert late.label_names() == ["__name__", "job"]
    assert late.label_values("job") == ["b"]
    assert q.label_values("job", [Matcher(MatchType.EQUAL, "x", "1")]) == ["a"]


def test_chunks_cut_at_120_samples_and_block_boundaries() -> None:
    h = Head(block_range_ms=7_200_000)
    n = 500
    ts = np.arange(n, dtype=np.int64) * 30_000  # crosses the 2h boundary at sample 240
    b = SampleBatch([A], np.zeros(n, dtype=np.int32), ts, np.arange(n, dtype=np.float64))
    h.append(b)
    h.cut_chunks()
    chunks = h.chunks[0]
    assert chunks is not None
    counts = [chunk_samples(c[2]) for c in chunks]
    assert counts == [120, 120, 120, 120]
    assert (h.staging.count, int(h.open.count[0])) == (0, 20)  # the open chunk
    for mint, maxt, _ in chunks:
        assert mint // 7_200_000 == maxt // 7_200_000
    (s,) = HeadQuerier(h, *ALL).select([])
    assert s.timestamps.tolist() == ts.tolist()


def test_random_workload_matches_model_across_cuts() -> None:
    """Random in-order, out-of-order, duplicate and conflicting samples vs a dict model."""
    rng = random.Random(7)
    window = 50_000
    h = Head(block_range_ms=100_000)
    model: dict[Labels, dict[int, float]] = {}
    newest = -(2**63)
    series = [lbl(__name__="m", i=str(i)) for i in range(20)]
    for step in range(150):
        samples = []
        for _ in range(rng.randint(1, 40)):
            ls = rng.choice(series)
            cur = model.get(ls, {})
            ts = (max(cur) if cur and rng.random() < 0.8 else 0) + rng.randint(-60, 30) * 1000
            if cur and rng.random() < 0.2:
                ts = rng.choice(list(cur))
            samples.append((ls, ts, float(rng.randint(0, 3))))
        res = h.append(batch(samples), ooo_window_ms=window)
        accepted = late = 0
        batch_newest = newest
        # In order from half a block range before the head's newest sample (Prometheus's
        # appendable window), out of order within the window; older is late, kept.
        min_in_order = newest - 50_000 if newest != -(2**63) else newest
        for ls, ts, v in samples:  # the model of the rules, one sample at a time
            cur = model.setdefault(ls, {})
            last = max(cur) if cur else -(2**63)
            if ts in cur:  # duplicate (same value) or rejected (other value)
                continue
            in_window = ts >= newest - window
            if (ts > last and ts >= min_in_order) or in_window or ts < min_in_order:
                cur[ts] = v
                batch_newest = max(batch_newest, ts)
                accepted += 1
                late += ts < min_in_order and not in_window
        newest = batch_newest
        assert (res.accepted, res.late) == (accepted, late), step
        if step % 37 == 0:
            h.cut_chunks(everything=step % 74 == 0)
        got = dump(h)
        want = {k: sorted(v.items()) for k, v in model.items() if v}
        assert got == want, step


def test_truncate_drops_old_data_and_empty_series_and_survives_snapshot() -> None:
    import io

    from tidewell.tsdb.head.snapshot import load_head, save_head

    h = Head(block_range_ms=100_000)
    old = lbl(__name__="old")
    n = 300
    ts = np.arange(n, dtype=np.int64) * 1000  # 0 .. 299s, crosses blocks at 100s, 200s
    h.append(SampleBatch([A], np.zeros(n, dtype=np.int32), ts, ts.astype(np.float64)))
    h.append(batch([(old, 5000, 1.0)]))
    assert h.truncate(200_000) == 1  # "old" had nothing left
    assert h.active_series == 1
    assert dump(h) == {A: [(t, float(t)) for t in range(200_000, 300_000, 1000)]}
    assert HeadQuerier(h, *ALL).label_values("__name__") == ["up"]
    assert HeadQuerier(h, 0, 150_000).select([]) == []
    res = h.append(batch([(A, 150_000, 1.0)]), ooo_window_ms=0)
    assert (res.late, res.rejected) == (1, {})  # late: kept (cut into out-of-order blocks)
    assert h.truncate(200_000) == 0
    assert dump(h) == {A: [(t, float(t)) for t in range(200_000, 300_000, 1000)]}
    # the removed series comes back as a new series with a new ref
    h.append(batch([(old, 400_000, 2.0)]))
    assert h.get_ref(old) == 2
    buf = io.BytesIO()
    save_head(h, buf)
    buf.seek(0)
    h2 = load_head(buf)
    assert (h2.num_series, h2.active_series) == (3, 2)
    assert dump(h2) == dump(h)
    assert h2.get_ref(old) == 2


def test_selected_series_do_not_change_when_chunks_are_cut_later() -> None:
    h = Head()
    h.append(batch([(A, 60_000, 1.0)]))
    h.cut_chunks(everything=True)  # A's cut chunks now end at 60s
    h.append(batch([(A, 70_000, 2.0), (A, 80_000, 3.0)]))
    h.append(batch([(A, 50_000, 4.0)]), ooo_window_ms=60_000)  # staged: 50s, 70s, 80s
    got = HeadQuerier(h, 65_000, ALL[1]).select([])
    h.cut_chunks()  # moves 50s into an out-of-order chunk, shifting the staged tail
    assert [(s.timestamps.tolist(), s.values.tolist()) for s in got] == [
        ([70_000, 80_000], [2.0, 3.0])
    ]
    assert dump(h) == {A: [(50_000, 4.0), (60_000, 1.0), (70_000, 2.0), (80_000, 3.0)]}


def test_value_counts_are_the_postings_lengths() -> None:
    p = MemPostings()
    p.add(0, Labels.from_dict({"job": "a", "pod": "x"}))
    p.add(1, Labels.from_dict({"job": "a", "pod": "y"}))
    p.add(2, Labels.from_dict({"job": "b"}))
    assert p.value_counts("job") == {"a": 2, "b": 1}
    assert p.value_counts("pod") == {"x": 1, "y": 1}
    assert p.value_counts("nope") == {}
