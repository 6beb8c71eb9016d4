"""Prometheus 3's ``promtool tsdb dump`` reads our histogram chunks sample for sample.

A head holding integer histograms (schema 0, positive, negative and zero
buckets, new buckets appearing, a counter reset, a stale marker), gauge float
histograms (schema -1), custom-bucket histograms (NHCB) and plain floats is
cut into a block by the ingester's path (``block_series`` → ``BlockWriter``).
promtool prints every sample with Go's ``Histogram.String``; we format what we
appended the same way and compare line for line.
"""

from __future__ import annotations

import math
import re
import subprocess
from decimal import Decimal
from pathlib import Path

import numpy as np

from tests.support.peers import promtool3_binary
from tidewell.model.batch import SampleBatch
from tidewell.model.histogram import CUSTOM_BUCKETS_SCHEMA, CounterResetHint, Histogram
from tidewell.model.labels import Labels
from tidewell.model.samples import stale_nan
from tidewell.tsdb.block import BlockWriter
from tidewell.tsdb.chunkenc.histogram import is_stale_histogram, span_indices
from tidewell.tsdb.head import Head
from tidewell.tsdb.head.compact import block_series

R = 7_200_000
T0 = 1_700_000_000_000 // R * R


def go_g(f: float) -> str:
    """Go's ``%g`` (shortest digits; exponent form below 1e-4 or from 1e6)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "-0" if math.copysign(1, f) < 0 else "0"
    sign, digits, exp = Decimal(repr(f)).normalize().as_tuple()
    ds = "".join(map(str, digits))
    nd, dp = len(ds), len(ds) + int(exp)
    neg = "-" if sign else ""
    x = dp - 1
    if x < -4 or x >= 6:
        mant = ds[0] + ("." + ds[1:] if nd > 1 else "")
        return f"{neg}{mant}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if dp <= 0:
        return f"{neg}0.{'0' * -dp}{ds}"
    if dp >= nd:
        return neg + ds + "0" * (dp - nd)
    return f"{neg}{ds[:dp]}.{ds[dp:]}"


def _bound(idx: int, h: Histogram) -> float:
    if h.schema == CUSTOM_BUCKETS_SCHEMA:
        if idx < 0:
            return -math.inf
        return h.custom_values[idx] if idx < len(h.custom_values) else math.inf
    assert h.schema <= 0, "exact bounds only for schema <= 0 in this test"
    return math.ldexp(1.0, idx << -h.schema)


def go_string(h: Histogram) -> str:
    """``Histogram.String()`` / ``FloatHistogram.String()``: non-empty buckets only."""
    if is_stale_histogram(h):
        return "{count:0, sum:NaN}"
    count = str(int(h.count)) if h.integer else go_g(h.count)

    def c(v: float) -> str:
        return str(int(v)) if h.integer else go_g(v)

    parts = [f"{{count:{count}, sum:{go_g(h.sum)}"]
    neg = list(zip(span_indices(h.negative_spans), h.negative_buckets, strict=True))
    for idx, v in reversed(neg):
        if v:
            parts.append(f"[{go_g(-_bound(idx, h))},{go_g(-_bound(idx - 1, h))}):{c(v)}")
    if h.zero_count:
        zt = go_g(h.zero_threshold)
        parts.append(f"[-{zt},{zt}]:{c(h.zero_count)}")
    for idx, v in zip(span_indices(h.positive_spans), h.positive_buckets, strict=True):
        if v:
            lo, hi = _bound(idx - 1, h), _bound(idx, h)
            left = "[" if h.schema == CUSTOM_BUCKETS_SCHEMA and idx == 0 else "("
            parts.append(f"{left}{go_g(lo)},{go_g(hi)}]:{c(v)}")
    return ", ".join(parts) + "}"


def _series() -> dict[str, list[tuple[int, Histogram | float]]]:
    ints, floats, nhcb, plain = [], [], [], []
    for i in range(1, 301):
        t = T0 + 15_000 * i
        k = i if i < 200 else i - 199  # counter reset at i == 200
        wide = i >= 50  # a new bucket appears: recoding, not a new chunk
        ints.append((t, Histogram(
            schema=0, zero_threshold=0.001, zero_count=float(k), count=float(4 * k + 2 * k * wide),
            sum=0.25 * k, positive_spans=((0, 2), (1, 1 + wide)),
            positive_buckets=(float(k), 0.0, float(k), *((2.0 * k,) if wide else ())),
            negative_spans=((-1, 1),), negative_buckets=(float(k),), integer=True)))
        floats.append((t, Histogram(
            schema=-1, count=1.5 * (i % 7), sum=-2.5 * i, positive_spans=((-2, 2),),
            positive_buckets=(0.5 * (i % 7), 1.0 * (i % 7)), integer=False,
            counter_reset_hint=CounterResetHint.GAUGE)))
        nhcb.append((t, Histogram(
            schema=CUSTOM_BUCKETS_SCHEMA, count=float(6 * i), sum=0.125 * i,
            positive_spans=((0, 4),), positive_buckets=(float(i), float(2 * i), 0.0, float(3 * i)),
            custom_values=(0.005, 0.25, 1.0), integer=True)))
        plain.append((t, 0.1 * i))
    ints.append((T0 + 15_000 * 301, Histogram(sum=stale_nan(), integer=True)))
    return {"h_float": floats, "h_int": ints, "h_nhcb": nhcb, "plain": plain}


def _head(data: dict[str, list]) -> Head:
    head = Head(block_range_ms=R)
    names = sorted(data)
    labels = [Labels.from_dict({"__name__": n, "job": "j"}) for n in names]
    rows = sorted((t, k, v) for k, n in enumerate(names) for t, v in data[n])
    for t, k, v in rows:
        is_h = isinstance(v, Histogram)
        batch = SampleBatch(
            labels=labels,
            series_index=np.array([] if is_h else [k], np.int32),
            timestamps=np.array([] if is_h else [t], np.int64),
            values=np.array([] if is_h else [v], np.float64),
            hist_series_index=np.array([k] if is_h else [], np.int32),
            hist_timestamps=np.array([t] if is_h else [], np.int64),
            histograms=[v] if is_h else [])
        res = head.append(batch)
        assert res.rejected_total == 0, res.first_error
    return head


def test_promtool3_dumps_our_histogram_block_sample_for_sample(tmp_path: Path) -> None:
    data = _series()
    head = _head(data)
    w = BlockWriter(tmp_path, min_time=T0, max_time=T0 + R)
    for labels, chunks in block_series(head, T0, T0 + R):
        w.add_series_chunks(labels, chunks)
    meta = w.finish()
    assert meta.num_samples == sum(len(v) for v in data.values())
    (tmp_path / "wal").mkdir()  # promtool opens the directory as a TSDB
    out = subprocess.run(
        [promtool3_binary(), "tsdb", "dump", f"--sandbox-dir-root={tmp_path}", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=True).stdout
    got: dict[str, list[tuple[int, str]]] = {}
    for line in out.splitlines():
        m = re.fullmatch(r'\{__name__="(\w+)", job="j"\} (.*) (-?\d+)', line)
        assert m, line
        got.setdefault(m[1], []).append((int(m[3]), m[2]))
    want = {
        name: [(t, go_string(v) if isinstance(v, Histogram) else go_g(v)) for t, v in rows]
        for name, rows in data.items()
    }
    assert sorted(got) == sorted(want)
    for name in want:
        assert len(got[name]) == len(want[name]), name
        for g, w_ in zip(got[name], want[name], strict=True):
            assert g == w_, (name, g, w_)
