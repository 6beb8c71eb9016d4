"""The histogram workload's bytes, read back by Tidewell's own remote-write 1.0 decoder."""

from __future__ import annotations

import itertools

import cramjam
import numpy as np

from benchmarks.hist_workload import HISTOGRAM_SCHEMA, ZERO_THRESHOLD, HistogramWorkload
from benchmarks.wire import encode_histogram, zigzag
from benchmarks.workload import WorkloadSpec
from tests.unit.benchmarks.pbdecode import fields
from tidewell.model import Histogram
from tidewell.protocol.rw1 import decode_write_request


def _decode(body: bytes):
    return decode_write_request(bytes(cramjam.snappy.decompress_raw(body)))


def test_zigzag_matches_protobuf_sint() -> None:
    assert [zigzag(n) for n in (0, -1, 1, -2, 2, -64)] == [0, 1, 2, 3, 4, 127]


def test_histogram_fields_on_the_wire() -> None:
    raw = encode_histogram(count=10, sum_=2.5, schema=-2, zero_threshold=0.001, zero_count=1,
                           spans=((-3, 2), (1, 1)), buckets=[4, 3, 2], timestamp=1234)
    got = {num: v for num, _w, v in fields(raw) if num != 11}
    assert got[1] == 10 and got[4] == zigzag(-2) and got[6] == 1 and got[15] == 1234
    spans = [fields(v) for num, _w, v in fields(raw) if num == 11]
    assert [[f[2] for f in s] for s in spans] == [[zigzag(-3), 2], [zigzag(1), 1]]
    # deltas 4, -1, -1 zigzagged and packed
    assert got[12] == bytes([8, 1, 1])


def test_rounds_decode_as_growing_counter_histograms() -> None:
    spec = WorkloadSpec(series=30, samples_per_request=7, shards=3, seed=5,
                        start_ms=1_700_000_000_000)
    wl = HistogramWorkload(spec)
    batch = wl.encode(3)
    assert batch.samples == 90
    assert all(len(s) == 5 for s in batch.shards)  # 30 per shard, 7 per request
    seen: dict[tuple, list[tuple[int, Histogram]]] = {}
    for shard in batch.shards:
        for req in shard:
            sb = _decode(req.body)
            assert len(sb) == 0 and len(sb.histograms) == req.samples
            for i, h, ts in zip(sb.hist_series_index, sb.histograms, sb.hist_timestamps,
                                strict=True):
                seen.setdefault(tuple(sb.labels[i]), []).append((int(ts), h))
    assert len(seen) == 30
    for labels, hs in seen.items():
        assert dict(labels)["__name__"].startswith("bench_hist_")
        assert [t for t, _ in hs] == sorted(t for t, _ in hs) and len(hs) == 3
        for _t, h in hs:
            assert h.integer and h.schema == HISTOGRAM_SCHEMA
            assert h.zero_threshold == ZERO_THRESHOLD
            assert 20 <= len(h.positive_buckets) <= 40 and not h.negative_buckets
            assert h.count == h.zero_count + sum(h.positive_buckets)
        # a counter: no bucket ever decreases, and observations arrive
        for (_, a), (_, b) in itertools.pairwise(hs):
            assert np.all(np.array(b.positive_buckets) >= np.array(a.positive_buckets))
            assert b.count > a.count and b.sum > a.sum
    assert wl.first_probe is not None and len(wl.probes()) == 3
