"""Bucket layouts shared by the distributor (resolution reduction) and PromQL (``FH``)."""

from __future__ import annotations

from tidewell.model.histogram import bucket_map, reduce_buckets, spans_of


def test_bucket_map_places_counts_at_absolute_indexes() -> None:
    assert bucket_map(((-2, 2), (3, 1)), (1, 2, 5)) == {-2: 1.0, -1: 2.0, 3: 5.0}
    assert bucket_map((), ()) == {}


def test_spans_of_compacts_unless_empty_buckets_are_kept() -> None:
    d = {-2: 1.0, -1: 0.0, 0: 2.0, 4: 3.0}
    assert spans_of(d) == (((-2, 1), (1, 1), (3, 1)), (1.0, 2.0, 3.0))
    assert spans_of(d, keep_empty=True) == (((-2, 3), (3, 1)), (1.0, 0.0, 2.0, 3.0))
    assert spans_of(bucket_map(((-2, 3), (3, 1)), (1, 0, 2, 3)), keep_empty=True) == (
        ((-2, 3), (3, 1)), (1.0, 0.0, 2.0, 3.0))


def test_reduce_buckets_follows_prometheus_index_rule() -> None:
    # one schema down: 1,2 -> 1; 3,4 -> 2; 0,-1 -> 0; -2,-3 -> -1
    assert reduce_buckets({-3: 1.0, -2: 2.0, -1: 3.0, 0: 4.0, 1: 5.0, 2: 6.0, 3: 7.0}, 1) == {
        -1: 3.0, 0: 7.0, 1: 11.0, 2: 7.0}
    # two schemas down: 1..4 -> 1, 5..8 -> 2
    assert reduce_buckets({1: 1.0, 4: 1.0, 5: 2.0, 8: 2.0}, 2) == {1: 2.0, 2: 4.0}
