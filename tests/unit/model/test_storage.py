"""``select_parts``: one samples hint over several sources asked one after another."""

from __future__ import annotations

import pytest

from tests.support.heads import scraped_head
from tidewell.model import Matcher, MatchType, SelectHints, SelectLimitError, select_parts
from tidewell.tsdb.head import HeadQuerier

ROUNDS = 100
SEL = [Matcher(MatchType.EQUAL, "__name__", "m")]


def _head(series: range) -> HeadQuerier:
    return HeadQuerier(scraped_head(series, ROUNDS, 1000), 0, ROUNDS * 1000)


def test_parts_share_the_room_and_the_error_counts_them_all() -> None:
    a, b = _head(range(0, 10)), _head(range(10, 30))
    got = select_parts([a, b], SEL, SelectHints(max_samples=30 * ROUNDS))
    assert [len(x) for x in got] == [10, 20]
    for disjoint, series in ((True, 30), (False, 20)):
        with pytest.raises(SelectLimitError) as err:
            select_parts([a, b], SEL, SelectHints(max_samples=25 * ROUNDS), disjoint=disjoint)
        assert err.value.what == "samples" and err.value.limit == 25 * ROUNDS
        assert err.value.series == series and err.value.samples > 25 * ROUNDS


def test_other_limits_and_no_samples_hint_go_to_each_part_unchanged() -> None:
    a, b = _head(range(0, 10)), _head(range(10, 30))
    with pytest.raises(SelectLimitError) as err:
        select_parts([a, b], SEL, SelectHints(max_series=15, max_samples=10**6))
    assert err.value.what == "series" and err.value.limit == 15
    got = select_parts([a, b], SEL, SelectHints(max_series=25))  # each part fits alone
    assert [len(x) for x in got] == [10, 20]
