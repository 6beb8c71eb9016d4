"""Rule results as remote-write 1.0: floats in ``samples``, native histograms in
``histograms`` (as Prometheus's remote write sends them)."""

from __future__ import annotations

import math

from tidewell.model import CounterResetHint, Histogram, is_stale_nan
from tidewell.protocol.pb import prompb_pb2 as pb
from tidewell.protocol.prompb_model import histogram_from_pb
from tidewell.ruler.output import STALE, write_request

H = Histogram(schema=1, zero_threshold=1e-128, zero_count=0.5, count=4.5, sum=7.25,
              positive_spans=((0, 2),), positive_buckets=(1.5, 2.5),
              counter_reset_hint=CounterResetHint.GAUGE)


def test_floats_histograms_and_stale_markers_in_one_request() -> None:
    req = pb.WriteRequest.FromString(write_request(
        [((("__name__", "r"), ("job", "a")), 2.5),
         ((("__name__", "h"), ("job", "a")), H),
         ((("__name__", "r"), ("job", "b")), STALE)], 60_000))
    floats, hist, stale = req.timeseries
    assert [(lb.name, lb.value) for lb in hist.labels] == [("__name__", "h"), ("job", "a")]
    assert [(s.value, s.timestamp) for s in floats.samples] == [(2.5, 60_000)]
    assert not hist.samples and len(hist.histograms) == 1
    assert hist.histograms[0].timestamp == 60_000
    assert histogram_from_pb(hist.histograms[0]) == H
    assert math.isnan(stale.samples[0].value) and is_stale_nan(stale.samples[0].value)
