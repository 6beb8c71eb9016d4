"""The query scenario's data: a dashboard-like fleet of targets, as arrays and as blocks.

Every target exposes 50 series: 20 request counters (``handler`` x ``code``), 18
memory gauges (``area``), 11 classic histogram buckets (``le``) and one info
series (``team``), each with ``cluster``, ``instance``, ``job`` and ``namespace``.
At 200 targets that is the issue's 10k series, and ``bench_http_requests_total
{handler="h0",code="200"}`` selects 200 of them.

Values are deterministic per (series, time range): each series draws from its
own generator, so the head push (all series at once, one round after another)
and the block writer (series in label order, all their samples at once) need
not hold all of each other's data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import numpy.typing as npt

from benchmarks.wire import RW1Template, label_field_bytes, snappy, varint
from benchmarks.workload import EncodedRequest

__all__ = ["QueryDataset"]

JOBS = ("api", "db", "cache", "web", "queue")
CLUSTERS = ("eu-1", "us-1", "ap-1")
HANDLERS = tuple(f"h{i}" for i in range(5))
CODES = ("200", "404", "500", "503")
AREAS = tuple(f"a{i:02d}" for i in range(18))
BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf")
SERIES_PER_TARGET = len(HANDLERS) * len(CODES) + len(AREAS) + len(BUCKETS) + 1

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _Kind:
    name: str  # "counter", "gauge", "bucket", "info"
    index: int  # variant within the kind (bucket: le index)


@dataclass(frozen=True)
class QueryDataset:
    """``targets`` targets scraped every ``interval_ms``; see the module docstring."""

    targets: int
    interval_ms: int = 15_000
    seed: int = 7

    @property
    def series(self) -> int:
        return self.targets * SERIES_PER_TARGET

    @cached_property
    def _layout(self) -> tuple[list[Labels], list[int], list[_Kind]]:
        labels: list[Labels] = []
        target_of: list[int] = []
        kinds: list[_Kind] = []
        for t in range(self.targets):
            job = JOBS[t % len(JOBS)]
            base = (("cluster", CLUSTERS[(t // len(JOBS)) % len(CLUSTERS)]),
                    ("instance", f"10.0.{t // 250}.{t % 250}:9100"), ("job", job),
                    ("namespace", f"ns-{t % 10}"))
            rows: list[tuple[Labels, _Kind]] = []
            for h, handler in enumerate(HANDLERS):
                for c, code in enumerate(CODES):
                    rows.append(((("__name__", "bench_http_requests_total"), *base[:1],
                                  ("code", code), ("handler", handler), *base[1:]),
                                 _Kind("counter", h * len(CODES) + c)))
            for a, area in enumerate(AREAS):
                rows.append(((("__name__", "bench_memory_bytes"), ("area", area), *base),
                             _Kind("gauge", a)))
            for k, le in enumerate(BUCKETS):
                rows.append(((("__name__", "bench_request_duration_seconds_bucket"), *base[:3],
                              ("le", le), *base[3:]), _Kind("bucket", k)))
            rows.append(((("__name__", "bench_target_info"), *base, ("team", f"t{t % 7}")),
                         _Kind("info", 0)))
            for lb, kind in rows:
                labels.append(lb)
                target_of.append(t)
                kinds.append(kind)
        return labels, target_of, kinds

    @property
    def labels(self) -> list[Labels]:
        return self._layout[0]

    @cached_property
    def offsets(self) -> npt.NDArray[np.int64]:
        """Each target's scrape offset inside the interval (ms)."""
        rng = np.random.default_rng([self.seed, 0])
        return rng.integers(0, self.interval_ms, size=self.targets, dtype=np.int64)

    def timestamps(self, i: int, start_ms: int, rounds: int) -> npt.NDArray[np.int64]:
        """Series ``i``'s sample times: round starts plus its target's offset."""
        t = self._layout[1][i]
        return start_ms + np.arange(rounds, dtype=np.int64) * self.interval_ms + self.offsets[t]

    def values(self, i: int, start_ms: int, rounds: int) -> npt.NDArray[np.float64]:
        """Series ``i``'s values over ``rounds`` rounds from ``start_ms`` (deterministic)."""
        t = self._layout[1][i]
        kind = self._layout[2][i]
        if kind.name == "info":
            return np.ones(rounds)
        if kind.name == "bucket":  # cumulative over le: the sum of the finer buckets' draws
            out = np.zeros(rounds)
            for k in range(kind.index + 1):
                rng = np.random.default_rng([self.seed, start_ms, t, 100 + k])
                out += rng.integers(0, 4 + 3 * (k < 8), size=rounds)
            return np.cumsum(out)
        variant = kind.index + 100 * (kind.name == "gauge")
        rng = np.random.default_rng([self.seed, start_ms, t, variant])
        if kind.name == "counter":
            rate = int(rng.integers(1, 40))
            return float(rng.integers(0, 100_000)) + np.cumsum(
                rate + rng.integers(0, 3, size=rounds)).astype(np.float64)
        walk = np.round(rng.normal(0, 5, size=rounds), 2)
        return np.round(np.clip(float(rng.uniform(0, 1000)) + np.cumsum(walk), 0, None), 2)

    def matrix(self, start_ms: int, rounds: int) -> npt.NDArray[np.float64]:
        """All series' values, ``series x rounds`` (the head push's data)."""
        return np.stack([self.values(i, start_ms, rounds) for i in range(self.series)])

    def push_rounds(self, start_ms: int, rounds: int, *, shards: int, per_request: int
                    ) -> Iterator[list[list[EncodedRequest]]]:
        """Remote-write 1.0 requests, one round at a time, ``shards`` ordered streams."""
        vals = self.matrix(start_ms, rounds)
        offs = self.offsets[np.asarray(self._layout[1], dtype=np.int64)]
        parts = [label_field_bytes(lb) for lb in self.labels]
        templates: dict[tuple[int, int], RW1Template] = {}
        for r in range(rounds):
            ts = start_ms + r * self.interval_ms + offs
            ts_len = len(varint(int(ts.max())))
            out = []
            for s in range(shards):
                tmpl = templates.get((s, ts_len))
                if tmpl is None:
                    tmpl = templates[(s, ts_len)] = RW1Template(parts[s::shards], ts_len)
                buf = tmpl.fill(vals[s::shards, r], ts[s::shards])
                starts = np.concatenate(([0], tmpl.ends))
                n = len(tmpl.ends)
                reqs = []
                for lo in range(0, n, per_request):
                    hi = min(n, lo + per_request)
                    raw = buf[starts[lo] : starts[hi]]
                    reqs.append(EncodedRequest(body=snappy(raw), samples=hi - lo,
                                               raw_size=int(raw.shape[0])))
                out.append(reqs)
            yield out

    def write_block(self, parent: Path, start_ms: int, rounds: int, *,
                    block_range_ms: int) -> Path:
        """One Prometheus block of ``rounds`` rounds from ``start_ms`` (a compactor's output)."""
        from tidewell.model import Labels as TwLabels
        from tidewell.tsdb.block.writer import BlockWriter

        order = sorted(range(self.series), key=self.labels.__getitem__)
        w = BlockWriter(parent, min_time=start_ms, max_time=start_ms + block_range_ms,
                        source="compactor", compaction_level=2)
        try:
            for i in order:
                w.add_series(TwLabels(list(self.labels[i])), self.timestamps(i, start_ms, rounds),
                             self.values(i, start_ms, rounds))
            w.finish()
        except BaseException:
            w.abort()
            raise
        return w.path
