"""Counter native histograms on the scrape fleet's series, pre-encoded as remote write 1.0.

Each series is an integer native histogram of schema 3 (bucket boundaries
2^(i/8)), as a Prometheus 3 client library exposes a latency histogram: one
span of 20-40 populated buckets placed per series, the default zero
threshold (2^-128), and every scrape adds Poisson-distributed observations
peaked in the middle of the span. Counts only grow (no counter resets), so a
chunk holds many samples, as in steady state. Series labels and timestamps
are the float workload's (``Workload``), names prefixed ``bench_hist``.
Everything derives from the spec's seed.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from benchmarks.wire import encode_histogram, encode_rw1_histograms, snappy
from benchmarks.workload import Batch, EncodedRequest, Workload, WorkloadSpec

__all__ = ["HISTOGRAM_SCHEMA", "ZERO_THRESHOLD", "HistogramWorkload"]

HISTOGRAM_SCHEMA = 3
ZERO_THRESHOLD = 2.0**-128  # Prometheus's default for native histograms


class HistogramWorkload:
    """Generates histogram rounds in order (counters need their history) and encodes them."""

    def __init__(self, spec: WorkloadSpec, *, min_buckets: int = 20, max_buckets: int = 40
                 ) -> None:
        if spec.protocol != 1:
            raise ValueError("the histogram workload speaks remote write 1.0 only")
        self.spec = spec
        self.fleet = Workload(dataclasses.replace(spec, metric_prefix="bench_hist"))
        n = spec.series
        rng = np.random.default_rng([spec.seed, 3])
        self.lengths = rng.integers(min_buckets, max_buckets + 1, size=n)
        # first bucket index: bounds from ~2^-2 (0.25 s) to ~2^2, as latencies in seconds
        self.offsets = rng.integers(-16, 17, size=n)
        width = max_buckets
        pos = np.arange(width)[None, :]
        mid = (self.lengths[:, None] - 1) / 2
        # observations per scrape and bucket: a bell over the span, 0 outside it
        peak = rng.uniform(1.0, 8.0, size=n)[:, None]
        lam = peak * np.exp(-(((pos - mid) / (self.lengths[:, None] / 5)) ** 2))
        self._lam = np.where(pos < self.lengths[:, None], lam, 0.0)
        upper = 2.0 ** ((self.offsets[:, None] + pos) / 2**HISTOGRAM_SCHEMA)
        self._mid_value = upper * 2.0 ** (-0.5 / 2**HISTOGRAM_SCHEMA)  # inside each bucket
        self._counts = np.zeros((n, width), dtype=np.int64)
        self._zero = np.zeros(n, dtype=np.int64)
        self._sum = np.zeros(n, dtype=np.float64)
        self._rng = np.random.default_rng([spec.seed, 4])
        self._labels = [self.fleet.label_bytes(s) for s in range(n)]

    @property
    def interval_ms(self) -> int:
        return self.fleet.interval_ms

    def _step(self) -> np.ndarray:
        """Observe one scrape interval; returns the round's timestamps."""
        rd = self.fleet.next_round()
        inc = self._rng.poisson(self._lam)
        self._counts += inc
        self._zero += self._rng.poisson(0.05, size=len(self._zero))
        self._sum += (inc * self._mid_value).sum(axis=1)
        return rd.timestamps

    def encode(self, rounds: int) -> Batch:
        """The next ``rounds`` rounds, one histogram per series each, split per shard."""
        spec = self.spec
        batch = Batch(shards=[[] for _ in range(spec.shards)])
        pending: list[list[tuple[bytes, bytes]]] = [[] for _ in range(spec.shards)]
        lengths, offsets = self.lengths.tolist(), self.offsets.tolist()
        for i in range(rounds):
            ts = self._step().tolist()
            if i == 0:
                self.fleet.first_probe = (self.fleet.labels(0), int(ts[0]))
            counts = self._counts.tolist()
            zero = self._zero.tolist()
            sums = self._sum.tolist()
            for slot in range(spec.series):
                buckets = counts[slot][: lengths[slot]]
                h = encode_histogram(
                    count=zero[slot] + sum(buckets), sum_=sums[slot], schema=HISTOGRAM_SCHEMA,
                    zero_threshold=ZERO_THRESHOLD, zero_count=zero[slot],
                    spans=((offsets[slot], lengths[slot]),), buckets=buckets,
                    timestamp=ts[slot],
                )
                buf = pending[slot % spec.shards]
                buf.append((self._labels[slot], h))
                if len(buf) == spec.samples_per_request:
                    batch.shards[slot % spec.shards].append(_request(buf))
                    buf.clear()
        for shard, buf in enumerate(pending):
            if buf:
                batch.shards[shard].append(_request(buf))
        return batch

    def probes(self) -> list[tuple[tuple[tuple[str, str], ...], int]]:
        """The last histogram of each stream (see ``Workload.probes``)."""
        return self.fleet.probes()

    @property
    def first_probe(self) -> tuple[tuple[tuple[str, str], ...], int] | None:
        return self.fleet.first_probe


def _request(entries: list[tuple[bytes, bytes]]) -> EncodedRequest:
    raw = encode_rw1_histograms([e[0] for e in entries], [e[1] for e in entries])
    return EncodedRequest(body=snappy(raw), samples=len(entries), raw_size=len(raw))
