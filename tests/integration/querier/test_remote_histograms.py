"""Native histograms of a head through the internal routes over real HTTP."""

from __future__ import annotations

import numpy as np
import pytest

from tidewell.model import Matcher, MatchType
from tidewell.model.batch import SampleBatch
from tidewell.model.histogram import CUSTOM_BUCKETS_SCHEMA, CounterResetHint, Histogram
from tidewell.model.labels import Labels
from tidewell.model.samples import stale_nan
from tidewell.querier.remote import RemoteQueryable
from tidewell.querier.wire import RAW, XOR_CHUNKS
from tidewell.tsdb.head import Head, HeadQuerier

from .conftest import internal_app

pytestmark = pytest.mark.timeout(60)


class HeadQueryable:
    def __init__(self, head: Head) -> None:
        self.head = head

    def querier(self, tenant: str, mint: int, maxt: int) -> HeadQuerier:
        return HeadQuerier(self.head, mint, maxt)


def _head() -> Head:
    head = Head()
    labels = [Labels.from_dict({"__name__": n}) for n in ("float", "gauge_fh", "int_h", "nhcb")]
    for i in range(1, 150):
        t = 1_700_000_000_000 + 15_000 * i
        hs = [
            Histogram(schema=-1, count=2.5 * (i % 9), sum=-1.5 * i, positive_spans=((0, 1),),
                      positive_buckets=(2.5 * (i % 9),), integer=False,
                      counter_reset_hint=CounterResetHint.GAUGE),
            Histogram(schema=4, zero_threshold=1e-9, zero_count=float(i % 50), count=float(
                3 * (i % 50)), sum=0.1 * i, positive_spans=((3, 1), (2, 1)),
                positive_buckets=(float(i % 50), float(i % 50)), integer=True)
            if i != 100 else Histogram(sum=stale_nan(), integer=True),
            Histogram(schema=CUSTOM_BUCKETS_SCHEMA, count=float(i), sum=0.01 * i,
                      positive_spans=((0, 2),), positive_buckets=(float(i), 0.0),
                      custom_values=(0.25,), integer=True),
        ]
        res = head.append(SampleBatch(
            labels=labels, series_index=np.array([0], np.int32),
            timestamps=np.array([t], np.int64), values=np.array([0.5 * i]),
            hist_series_index=np.array([1, 2, 3], np.int32),
            hist_timestamps=np.full(3, t, np.int64), histograms=hs))
        assert res.rejected_total == 0, res.first_error
    return head


@pytest.mark.parametrize("encoding", [RAW, XOR_CHUNKS])
def test_head_histograms_over_http(serve, encoding: int) -> None:  # type: ignore[no-untyped-def]
    local = HeadQueryable(_head())
    srv = serve(internal_app(local))
    sel = [Matcher(MatchType.REGEX, "__name__", ".+")]
    mint, maxt = 1_700_000_000_000 + 15_000 * 20, 1_700_000_000_000 + 15_000 * 130
    want = local.querier("t", mint, maxt).select(sel)
    with RemoteQueryable(srv.url, encoding=encoding, timeout_s=10) as remote:
        got = remote.querier("t", mint, maxt).select(sel)
    assert [s.labels for s in got] == [s.labels for s in want]
    assert got[0].histograms is None and got[0].values.tolist() == want[0].values.tolist()
    for g, w in zip(got[1:], want[1:], strict=True):
        assert len(g) == 0
        assert g.histograms.timestamps.tolist() == w.histograms.timestamps.tolist()
        assert len(g.histograms) == 111
        for a, b in zip(w.histograms.values, g.histograms.values, strict=True):
            if a.sum != a.sum:
                assert b.sum != b.sum
                continue
            assert (b.schema, b.count, b.sum, b.zero_count, b.zero_threshold, b.integer,
                    b.positive_spans, b.positive_buckets, b.custom_values) == (
                a.schema, a.count, a.sum, a.zero_count, a.zero_threshold, a.integer,
                a.positive_spans, a.positive_buckets, a.custom_values)
        if w.labels.get("__name__") == "gauge_fh":
            assert {h.counter_reset_hint for h in g.histograms.values} == {
                CounterResetHint.GAUGE}
