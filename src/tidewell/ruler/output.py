"""Rule results as remote-write 1.0 requests, pushed through the distributor.

The ruler writes like any client: one RW 1.0 request per rule evaluation goes
through ``Distributor.push`` (validation, tenant limits, sharding, the log), so
results are replicated, durable and counted like every other sample. A native
histogram result travels in the request's ``histograms`` field, as Prometheus's
remote write sends it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from tidewell.model import Histogram, stale_nan
from tidewell.protocol.pb import prompb_pb2 as pb
from tidewell.protocol.prompb_model import histogram_to_pb

__all__ = ["STALE", "Pusher", "Value", "write_request"]

Labels = tuple[tuple[str, str], ...]
Value = float | Histogram
Pusher = Callable[[str, bytes], Awaitable[Any]]
"""``push(tenant, uncompressed RW 1.0 bytes)``: the distributor's push."""

STALE = stale_nan()


def write_request(samples: Iterable[tuple[Labels, Value]], ts_ms: int) -> bytes:
    """One sample (a float or a native histogram) per series, all at ``ts_ms``; labels
    must be sorted."""
    req = pb.WriteRequest()
    for labels, value in samples:
        ts = req.timeseries.add()
        for name, val in labels:
            ts.labels.add(name=name, value=val)
        if isinstance(value, Histogram):
            histogram_to_pb(value, ts_ms, ts.histograms.add())
        else:
            ts.samples.add(value=value, timestamp=ts_ms)
    return req.SerializeToString()
