"""Merging ingesters' cardinality answers: max over a partition's replicas, sum over
partitions; the wire format round-trips."""

from __future__ import annotations

import pytest

from tidewell.ingester.cardinality import HeadStats, LabelStats, ResultTooLargeError
from tidewell.model import Labels, Matcher, MatchType
from tidewell.querier.cardinality import (
    decode_label_stats,
    decode_series,
    decode_stats_request,
    encode_label_stats,
    encode_series,
    encode_stats_request,
    merge_label_stats,
)


def st(series: int, pairs: dict[str, dict[str, int]], mint: int = 0, maxt: int = 0) -> LabelStats:
    return LabelStats(series, pairs, HeadStats(series, series, mint, maxt))


def test_replicas_take_the_max_partitions_add_up() -> None:
    p0_zone_a = st(3, {"job": {"api": 2, "db": 1}}, 10, 20)
    p0_zone_b = st(2, {"job": {"api": 2}}, 10, 15)  # lags: has not seen db yet
    p1 = st(4, {"job": {"api": 3, "web": 1}, "pod": {"x": 4}}, 5, 30)
    out = merge_label_stats([[p0_zone_a, p0_zone_b], [p1]])
    assert out.series == 7
    assert out.pairs == {"job": {"api": 5, "db": 1, "web": 1}, "pod": {"x": 4}}
    assert (out.head.num_series, out.head.chunk_count) == (7, 7)
    assert (out.head.min_time, out.head.max_time) == (5, 30)
    with pytest.raises(ResultTooLargeError):
        merge_label_stats([[p0_zone_a], [p1]], max_bytes=10)


def test_wire_round_trip() -> None:
    s = st(2, {"a.b": {"✓": 2}}, -5, 7)
    assert decode_label_stats(encode_label_stats(s)) == s
    series = [Labels.from_dict({"__name__": "up", "job": "x"}), Labels()]
    assert decode_series(encode_series(series)) == series
    ms = [Matcher(MatchType.REGEX, "job", "a|b"), Matcher(MatchType.NOT_EQUAL, "x", "")]
    body = encode_stats_request(ms, count_method="active", names=["job"], max_bytes=9)
    assert decode_stats_request(body) == (ms, "active", ["job"], 9)
    with pytest.raises(ValueError, match="count method"):
        decode_stats_request(encode_stats_request([], count_method="sometimes"))
    with pytest.raises(ValueError, match="bad request"):
        decode_stats_request(b"{")
