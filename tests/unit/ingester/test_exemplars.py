"""The per-tenant exemplar store: ring eviction, per-series order, duplicates, limits."""

from __future__ import annotations

import random

import pytest
from prometheus_client import REGISTRY

from tests.support.metrics import metric_value
from tidewell.ingester.exemplars import APPENDED, OUT_OF_ORDER, ExemplarStore
from tidewell.model import Exemplar, Labels, Matcher, MatchType


def L(**kw: str) -> Labels:
    return Labels.from_dict(kw)


def ex(ts: int, value: float = 1.0, trace: str = "t") -> Exemplar:
    return Exemplar(L(trace_id=trace), value, ts)


A = L(__name__="req_total", job="a")
B = L(__name__="req_total", job="b")
ALL = [[Matcher(MatchType.REGEX, "__name__", ".+")]]


def store(capacity: int = 10, window: int = 0) -> ExemplarStore:
    return ExemplarStore("tenant-x", lambda: capacity, lambda: window)


def ts_of(s: ExemplarStore, labels: Labels = A) -> list[int]:
    for ls, exs in s.select(-(2**62), 2**62, ALL):
        if ls == labels:
            return [e.timestamp for e in exs]
    return []


def test_select_returns_series_sorted_and_exemplars_in_time_order() -> None:
    s = store()
    s.add(B, [ex(1), ex(2)])
    s.add(A, [ex(5, 2.5, "abc")])
    got = s.select(0, 10, ALL)
    assert [ls for ls, _ in got] == [A, B]
    assert got[0][1] == [Exemplar(L(trace_id="abc"), 2.5, 5)]
    assert [e.timestamp for e in got[1][1]] == [1, 2]


def test_select_filters_time_range_and_matcher_sets() -> None:
    s = store()
    s.add(A, [ex(t) for t in (10, 20, 30, 40)])
    s.add(B, [ex(25)])
    job_a = [Matcher(MatchType.EQUAL, "job", "a")]
    assert s.select(15, 35, [job_a]) == [(A, [ex(20), ex(30)])]
    # Sets are OR-ed; a set's matchers AND-ed.
    job_b = [Matcher(MatchType.EQUAL, "job", "b"), Matcher(MatchType.EQUAL, "__name__",
                                                           "req_total")]
    got = s.select(0, 100, [job_a, job_b])
    assert [ls for ls, _ in got] == [A, B]
    assert s.select(41, 100, [job_a]) == []
    assert s.select(0, 100, [[Matcher(MatchType.EQUAL, "job", "c")]]) == []


def test_oldest_arrival_is_evicted_when_full_across_series() -> None:
    s = store(capacity=4)
    s.add(A, [ex(1), ex(2)])
    s.add(B, [ex(3)])
    s.add(A, [ex(4)])
    assert len(s) == 4
    s.add(B, [ex(5), ex(6)])  # evicts A@1 and A@2
    assert ts_of(s, A) == [4]
    assert ts_of(s, B) == [3, 5, 6]
    assert len(s) == 4
    s.add(B, [ex(7), ex(8), ex(9)])  # evicts B@3, A@4 (A's last: series gone), B@5
    assert ts_of(s, A) == []
    assert s.num_series == 1
    assert ts_of(s, B) == [6, 7, 8, 9]


def test_a_series_evicting_its_own_oldest_keeps_its_list_intact() -> None:
    s = store(capacity=3)
    s.add(A, [ex(t) for t in range(1, 11)])
    assert ts_of(s, A) == [8, 9, 10]
    assert len(s) == 3


def test_duplicate_of_newest_is_accepted_and_stored_once() -> None:
    s = store()
    before = metric_value(APPENDED)
    r = s.add(A, [ex(1), ex(1)])
    assert (r.appended, r.duplicates, r.rejected) == (1, 1, 0)
    r = s.add(A, [ex(1)])
    assert (r.appended, r.duplicates) == (0, 1)
    assert ts_of(s) == [1]
    assert metric_value(APPENDED) - before == 1


def test_out_of_order_is_rejected_and_counted() -> None:
    s = store()
    before = metric_value(OUT_OF_ORDER)
    s.add(A, [ex(10)])
    r = s.add(A, [ex(5), ex(10, 0.5), ex(11)])
    assert (r.appended, r.out_of_order) == (1, 2)
    assert ts_of(s) == [10, 11]
    assert metric_value(OUT_OF_ORDER) - before == 2
    # Another series is independent.
    assert s.add(B, [ex(1)]).appended == 1


def test_same_timestamp_higher_value_is_kept_for_histogram_buckets() -> None:
    s = store()
    r = s.add(A, [ex(10, 1.0), ex(10, 2.0), ex(10, 3.0, "x")])
    assert r.appended == 3
    got = s.select(0, 20, ALL)[0][1]
    assert [e.value for e in got] == [1.0, 2.0, 3.0]


def test_out_of_order_window_inserts_in_place_and_drops_timestamp_duplicates() -> None:
    s = store(capacity=10, window=100)
    s.add(A, [ex(50), ex(100), ex(200)])
    r = s.add(A, [ex(150), ex(120), ex(199), ex(150, 9.0), ex(99)])
    assert (r.appended, r.duplicates, r.out_of_order) == (3, 1, 1)  # 99 <= 200 - 100
    assert ts_of(s) == [50, 100, 120, 150, 199, 200]
    # Older than the oldest but within the window: goes first.
    s2 = store(capacity=10, window=100)
    s2.add(A, [ex(150), ex(200)])
    assert s2.add(A, [ex(120)]).appended == 1
    assert ts_of(s2) == [120, 150, 200]


def test_out_of_order_inserts_survive_eviction_of_the_insertion_point() -> None:
    s = store(capacity=3, window=1000)
    s.add(A, [ex(10), ex(30), ex(40)])
    # The next slot holds A@10, the entry 20 would go after: evicted first.
    assert s.add(A, [ex(20)]).appended == 1
    assert ts_of(s) == [20, 30, 40]


def test_random_ops_keep_lists_sorted_and_bounded() -> None:
    rnd = random.Random(7)
    s = store(capacity=17, window=50)
    series = [L(__name__="m" if i % 2 else "other", i=str(i)) for i in range(6)]
    for _ in range(2000):
        ls = rnd.choice(series)
        s.add(ls, [ex(rnd.randrange(0, 3000), rnd.random())])
    total = 0
    for _, exs in s.select(-1, 10**9, ALL):
        stamps = [e.timestamp for e in exs]
        assert stamps == sorted(stamps)
        total += len(exs)
    assert total == len(s) == 17
    # Selecting by metric name (the name index) finds exactly what a full scan finds.
    everything = s.select(-1, 10**9, ALL)
    for name in ("m", "other"):
        by_name = s.select(-1, 10**9, [[Matcher(MatchType.EQUAL, "__name__", name)]])
        assert by_name == [p for p in everything if p[0].name == name]
    both = s.select(-1, 10**9, [[Matcher(MatchType.EQUAL, "__name__", "m")],
                                [Matcher(MatchType.EQUAL, "__name__", "other")]])
    assert both == everything


def test_labels_longer_than_128_runes_are_rejected() -> None:
    s = store()
    r = s.add(A, [Exemplar(L(trace_id="é" * 120), 1.0, 1),  # 8 + 120 runes: fits
                  Exemplar(L(trace_id="x" * 121), 1.0, 2)])
    assert (r.appended, r.labels_too_long) == (1, 1)


def test_capacity_zero_rejects_everything() -> None:
    s = store(capacity=0)
    r = s.add(A, [ex(1), ex(2)])
    assert (r.appended, r.disabled) == (0, 2)
    assert s.select(0, 10, ALL) == []


def test_limit_changes_resize_keeping_newest_arrivals() -> None:
    cap = [6]
    s = ExemplarStore("resize", lambda: cap[0])
    s.add(A, [ex(1), ex(2), ex(3)])
    s.add(B, [ex(4), ex(5), ex(6)])
    cap[0] = 4
    s.add(B, [ex(7)])  # shrinks to 4 first (keeps A@3, B@4..6), then evicts A@3
    assert ts_of(s, A) == []
    assert ts_of(s, B) == [4, 5, 6, 7]
    cap[0] = 8
    s.add(A, [ex(8)])
    assert len(s) == 5
    s.add(A, [ex(9), ex(10), ex(11), ex(12)])  # fills up to 8: evicts B@4
    assert ts_of(s, B) == [5, 6, 7]
    assert ts_of(s, A) == [8, 9, 10, 11, 12]
    cap[0] = 0
    assert s.add(A, [ex(13)]).disabled == 1
    assert len(s) == 0 and s.num_series == 0


def test_gauges_are_read_at_scrape_time_per_tenant() -> None:
    s = ExemplarStore("gauge-tenant", lambda: 2)

    def gauge(name: str) -> float | None:
        return REGISTRY.get_sample_value(name, {"user": "gauge-tenant"})

    series = "cortex_ingester_tsdb_exemplar_series_with_exemplars_in_storage"
    oldest = "cortex_ingester_tsdb_exemplar_last_exemplars_timestamp_seconds"
    assert gauge(series) == 0 and gauge(oldest) == 0
    s.add(A, [ex(1000)])
    s.add(B, [ex(2000)])
    assert gauge(series) == 2 and gauge(oldest) == 1.0
    s.add(B, [ex(3000)])  # evicts A@1000: the oldest arrival is now B@2000
    assert gauge(series) == 1 and gauge(oldest) == 2.0


class _Reference:
    """The store's rules written the slow, obvious way: a list in arrival order."""

    def __init__(self, capacity: int, window: int) -> None:
        self.capacity, self.window = capacity, window
        self.live: list[tuple[int, Labels, Exemplar]] = []
        self.seq = 0

    def chain(self, labels: Labels) -> list[Exemplar]:
        return [e for _, _, e in sorted(((e.timestamp, s, e) for s, ls, e in self.live
                                         if ls == labels), key=lambda t: (t[0], t[1]))]

    def add(self, labels: Labels, e: Exemplar) -> str:
        chain = self.chain(labels)
        if chain:
            newest = chain[-1]
            if newest == e:
                return "duplicate"
            if (e.timestamp < newest.timestamp
                    and e.timestamp <= newest.timestamp - self.window) or (
                    e.timestamp == newest.timestamp and (
                        e.value < newest.value
                        or (e.value == newest.value and e.labels < newest.labels))):
                return "out_of_order"
            if chain[0].timestamp <= e.timestamp < newest.timestamp:
                before = [x for x in chain if x.timestamp <= e.timestamp][-1]
                if before.timestamp == e.timestamp:
                    return "duplicate"
        self.seq += 1
        self.live.append((self.seq, labels, e))
        if len(self.live) > self.capacity:
            self.live.pop(0)
        return "appended"


@pytest.mark.parametrize("seed", range(6))
def test_matches_a_reference_model(seed: int) -> None:
    rnd = random.Random(seed)
    capacity, window = rnd.choice([1, 3, 8, 40]), rnd.choice([0, 5, 30])
    s, ref = store(capacity, window), _Reference(capacity, window)
    series = [L(__name__="m", i=str(i)) for i in range(4)]
    for step in range(600):
        ls = rnd.choice(series)
        # Mostly moving forward with some jitter, sometimes far in the past.
        ts = rnd.randrange(0, 60) if rnd.random() < 0.3 else 40 + step // 4 + rnd.randrange(-8, 3)
        e = Exemplar(L(trace_id=rnd.choice("ab")), float(rnd.randrange(3)), ts)
        want = ref.add(ls, e)
        r = s.add(ls, [e])
        got = ("appended" if r.appended else "duplicate" if r.duplicates else "out_of_order")
        assert got == want
        assert len(s) == len(ref.live)
    for ls in series:
        assert ts_of(s, ls) == [e.timestamp for e in ref.chain(ls)]
        stored = next((exs for lbl, exs in s.select(-1, 10**9, ALL) if lbl == ls), [])
        assert stored == ref.chain(ls)
