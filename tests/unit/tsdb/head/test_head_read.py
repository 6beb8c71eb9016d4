"""HeadQuerier.select decodes every selected series' chunks in one call: it must give,
series by series, what the one-series path (``Head.series_samples``) gives."""

from __future__ import annotations

import numpy as np

from tests.support.ingester import make_batch as batch
from tidewell.model import Labels, Matcher, MatchType
from tidewell.model.samples import stale_mask, stale_nan
from tidewell.tsdb.head import Head, HeadQuerier


def test_batched_select_equals_per_series_reads_over_chunks_open_chunks_and_staging() -> None:
    rng = np.random.default_rng(3)
    h = Head(block_range_ms=3_600_000)
    series = [Labels([("__name__", "m"), ("i", f"{i:03d}")]) for i in range(60)]
    for r in range(700):  # closed chunks, open chunks, then staged samples on top
        samples = [(ls, r * 15_000 + i, float(rng.integers(0, 100)))
                   for i, ls in enumerate(series) if rng.random() < 0.9]
        h.append(batch(samples))
        if r % 50 == 49 and r < 650:
            h.cut_chunks()
    h.append(batch([(series[5], 100 * 15_000 + 7, 1.5)]), ooo_window_ms=10**9)  # out of order
    assert h.staging.count > 0
    matchers = [Matcher(MatchType.REGEX, "i", "0[0-4].")]
    for mint, maxt in ((0, 10**12), (1_000_000, 9_000_000), (9_500_000, 9_800_000)):
        got = HeadQuerier(h, mint, maxt).select(matchers)
        staged = h.staging.sorted_view()
        want = []
        for ls in sorted(series[:50]):
            ts, vs = h.series_samples(h.get_ref(ls), mint, maxt, staged)
            if ts.shape[0]:
                want.append((ls, ts, vs))
        assert [s.labels for s in got] == [w[0] for w in want]
        for s, (_, ts, vs) in zip(got, want, strict=True):
            assert np.array_equal(s.timestamps, ts) and np.array_equal(s.values, vs)
            assert bool(np.all(np.diff(s.timestamps) > 0))


def test_staged_staleness_markers_keep_their_bits() -> None:
    """Staged samples are copied as bits: a staleness marker (one NaN payload) stays one."""
    h = Head()
    a, b = Labels([("__name__", "m"), ("i", "a")]), Labels([("__name__", "m"), ("i", "b")])
    h.append(batch([(a, 1_000, 1.0), (b, 1_000, 2.0)]))
    h.cut_chunks()
    h.append(batch([(a, 2_000, stale_nan()), (b, 2_000, float("nan"))]))
    assert h.staging.count == 2
    got = {s.labels: s for s in HeadQuerier(h, 0, 10_000).select(
        [Matcher(MatchType.EQUAL, "__name__", "m")])}
    assert got[a].timestamps.tolist() == [1_000, 2_000]
    assert stale_mask(got[a].values).tolist() == [False, True]
    assert stale_mask(got[b].values).tolist() == [False, False]
    assert np.isnan(got[b].values[1])
