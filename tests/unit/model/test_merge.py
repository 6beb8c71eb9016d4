"""``model.merge``: histogram copies keep their start timestamps through a merge."""

from __future__ import annotations

import numpy as np

from tidewell.model import Histogram, HistogramSamples
from tidewell.model.merge import merge_histograms


def _hs(ts: list[int], counts: list[float], sts: list[int] | None) -> HistogramSamples:
    return HistogramSamples(np.array(ts, np.int64), [Histogram(count=c, sum=c) for c in counts],
                            None if sts is None else np.array(sts, np.int64))


def test_merge_histograms_carries_start_timestamps_first_copy_wins() -> None:
    merged = merge_histograms([_hs([10, 20], [1, 2], [5, 6]), _hs([20, 30], [9, 3], None)])
    assert merged is not None and merged.start_timestamps is not None
    assert merged.timestamps.tolist() == [10, 20, 30]
    assert [h.count for h in merged.values] == [1, 2, 3]
    assert merged.start_timestamps.tolist() == [5, 6, 0]  # the copy without STs: unknown
    later = merge_histograms([_hs([20, 30], [9, 3], None), _hs([10, 20], [1, 2], [5, 6])])
    assert later is not None and later.start_timestamps is not None
    assert later.start_timestamps.tolist() == [5, 0, 0]


def test_merge_histograms_without_start_timestamps_stays_without() -> None:
    merged = merge_histograms([_hs([10], [1], None), _hs([20], [2], None)])
    assert merged is not None and merged.start_timestamps is None
