"""``select_parts``: one samples hint over several sources asked one after another."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.heads import scraped_head
from tidewell.model import (
    Labels,
    Matcher,
    MatchType,
    SampleBatch,
    SelectHints,
    SelectLimitError,
    select_parts,
)
from tidewell.model.shard import ShardSelector
from tidewell.tsdb.head import Head, HeadQuerier

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


@pytest.mark.parametrize("disjoint", [False, True])
def test_one_series_in_each_part_counts_two_or_one(disjoint: bool) -> None:
    """The part before answered one series and the refusing part found one: two
    different series count two (a shard reported as one series is selected whole),
    the same series (time-split, or moved between partitions) counts one."""
    hints = SelectHints(max_samples=ROUNDS * 3 // 2)  # one series' samples fit, two do not
    more = Labels([("__name__", "m"), ("i", "00"), ("x", "1")])  # m{i="00"}'s labels and x
    for second, series in ((_head(range(1, 2)), 2), (_head(range(0, 1)), 1),
                           (_labelled(more), 2)):
        with pytest.raises(SelectLimitError) as err:
            select_parts([_head(range(0, 1)), second], SEL, hints, disjoint=disjoint)
        assert err.value.series == series and err.value.samples == 2 * ROUNDS
    sharded = [*SEL, ShardSelector(0, 1).matcher()]  # the query's own shard is set aside
    with pytest.raises(SelectLimitError) as err:
        select_parts([_head(range(0, 1)), _head(range(0, 1))], sharded, hints, disjoint=disjoint)
    assert err.value.series == 1


def _labelled(labels: Labels) -> HeadQuerier:
    """A head holding one series, ``labels``, sampled as ``_head``'s, its chunks cut."""
    head = Head()
    for r in range(ROUNDS):
        head.append(SampleBatch([labels], np.zeros(1, dtype=np.int32),
                                np.full(1, r * 1000, dtype=np.int64), np.ones(1)))
    head.cut_chunks()
    return HeadQuerier(head, 0, ROUNDS * 1000)
