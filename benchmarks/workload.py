"""A deterministic scrape-like workload, pre-encoded into remote-write requests.

The series universe looks like a fleet of scraped targets: each target exposes
``metrics_per_target`` metrics, and every series carries 10 labels
(``__name__``, ``cluster``, ``container``, ``env``, ``instance``, ``job``,
``namespace``, ``pod``, ``region``, ``zone``) whose values are shared the way
real fleets share them (a few jobs and clusters, one instance per target).

A *round* is one scrape of every target: one sample per series, timestamped at
the target's fixed offset inside the scrape interval (as Prometheus does).
Churn replaces a fraction of targets every round (a pod restart: new ``pod``
label value, so new series).

Requests are split into ``shards`` ordered streams by series, like
Prometheus's remote-write shards, so sending the shards concurrently never
reorders the samples of one series. Everything derives from ``seed``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from benchmarks.wire import RW1Template, encode_rw1, encode_rw2, label_field_bytes, snappy, varint

__all__ = ["Batch", "EncodedRequest", "Round", "Workload", "WorkloadSpec"]

JOBS = ("node-exporter", "kube-state-metrics", "cadvisor", "apiserver", "ingress-nginx")
CLUSTERS = ("prod-eu-1", "prod-us-1", "prod-ap-1")
REGIONS = {"prod-eu-1": "eu-west-1", "prod-us-1": "us-east-1", "prod-ap-1": "ap-south-1"}
CONTAINERS = ("app", "sidecar", "exporter", "proxy")
_SUBSYSTEMS = ("http", "grpc", "process", "go", "node_cpu", "node_disk", "node_network",
               "kafka", "db", "cache")
_NAMES = ("requests", "errors", "bytes", "duration_seconds_sum", "duration_seconds_count",
          "inflight", "queue_length", "open_fds", "goroutines", "memory_bytes")


@dataclass(frozen=True)
class WorkloadSpec:
    series: int = 100_000
    samples_per_request: int = 2000
    scrape_interval_s: float = 15.0
    churn: float = 0.0  # fraction of targets replaced per round
    metrics_per_target: int = 100
    shards: int = 4
    protocol: int = 1  # remote write 1 (1.0) or 2 (2.0)
    seed: int = 42
    start_ms: int | None = None  # first round's base timestamp; default: now - 1 interval
    metric_prefix: str = "bench"  # another prefix makes a disjoint set of series

    def __post_init__(self) -> None:
        if self.series <= 0 or self.samples_per_request <= 0 or self.shards <= 0:
            raise ValueError("series, samples_per_request and shards must be positive")
        if self.protocol not in (1, 2):
            raise ValueError("protocol must be 1 or 2")
        if not 0.0 <= self.churn <= 1.0:
            raise ValueError("churn must be within [0, 1]")


@dataclass
class Round:
    """One scrape of every series: slot i's sample is (values[i], timestamps[i])."""

    index: int
    values: np.ndarray
    timestamps: np.ndarray


@dataclass(frozen=True)
class EncodedRequest:
    body: bytes  # snappy-compressed
    samples: int
    raw_size: int


@dataclass
class Batch:
    """Pre-encoded requests, one ordered list per shard."""

    shards: list[list[EncodedRequest]] = field(default_factory=list)

    @property
    def samples(self) -> int:
        return sum(r.samples for s in self.shards for r in s)

    @property
    def requests(self) -> int:
        return sum(len(s) for s in self.shards)

    @property
    def compressed_bytes(self) -> int:
        return sum(len(r.body) for s in self.shards for r in s)


def metric_names(n: int, prefix: str = "bench") -> list[str]:
    """``n`` distinct realistic metric names (counters end in ``_total``)."""
    out = []
    for i in range(n):
        sub = _SUBSYSTEMS[i % len(_SUBSYSTEMS)]
        name = _NAMES[(i // len(_SUBSYSTEMS)) % len(_NAMES)]
        gen = i // (len(_SUBSYSTEMS) * len(_NAMES))
        suffix = f"_{gen}" if gen else ""
        kind = "_total" if i % 2 == 0 else ""
        out.append(f"{prefix}_{sub}_{name}{suffix}{kind}")
    return out


class Workload:
    """Generates rounds in order (counters need their history) and encodes them."""

    def __init__(self, spec: WorkloadSpec) -> None:
        self.spec = spec
        m = min(spec.metrics_per_target, spec.series)
        self._m = m
        self.targets = -(-spec.series // m)
        self.names = metric_names(m, spec.metric_prefix)
        rng = np.random.default_rng(spec.seed)
        interval_ms = int(spec.scrape_interval_s * 1000)
        self.interval_ms = interval_ms
        self._offsets = rng.integers(0, interval_ms, size=self.targets, dtype=np.int64)
        self._is_counter = (np.arange(spec.series) % m) % 2 == 0
        self._values = np.where(
            self._is_counter,
            rng.integers(0, 1_000_000, size=spec.series).astype(np.float64),
            np.round(rng.uniform(0, 100, size=spec.series), 2),
        )
        self._rates = rng.integers(1, 50, size=spec.series)
        self._churn_rng = np.random.default_rng([spec.seed, 1])
        self._value_rng = np.random.default_rng([spec.seed, 2])
        self._generation = np.zeros(self.targets, dtype=np.int64)
        self._target_cache: dict[int, tuple[tuple[tuple[str, str], ...], bytes]] = {}
        self._name_bytes = [label_field_bytes([("__name__", n)]) for n in self.names]
        self._shard_of = np.arange(spec.series) % spec.shards
        self.start_ms = (
            spec.start_ms
            if spec.start_ms is not None
            else (int(time.time() * 1000) // interval_ms - 1) * interval_ms
        )
        self._next_round = 0
        self._templates: dict[int, RW1Template] = {}  # per shard, for stream()
        self.last_round: Round | None = None
        self.first_probe: tuple[tuple[tuple[str, str], ...], int] | None = None

    # -- labels ----------------------------------------------------------------

    def _target(self, t: int) -> tuple[tuple[tuple[str, str], ...], bytes]:
        """Sorted labels (without ``__name__``) of target t's current generation."""
        key = t * 1_000_003 + int(self._generation[t])
        hit = self._target_cache.get(key)
        if hit is not None:
            return hit
        job = JOBS[t % len(JOBS)]
        cluster = CLUSTERS[(t // len(JOBS)) % len(CLUSTERS)]
        labels = (
            ("cluster", cluster),
            ("container", CONTAINERS[t % len(CONTAINERS)]),
            ("env", "prod"),
            ("instance", f"10.{(t >> 16) & 255}.{(t >> 8) & 255}.{t & 255}:9100"),
            ("job", job),
            ("namespace", f"ns-{t % 20:02d}"),
            ("pod", f"{job}-{t:06d}-g{int(self._generation[t])}"),
            ("region", REGIONS[cluster]),
            ("zone", f"{REGIONS[cluster]}{'abc'[t % 3]}"),
        )
        hit = (labels, label_field_bytes(labels))
        if len(self._target_cache) > 4 * self.targets:
            self._target_cache.clear()
        self._target_cache[key] = hit
        return hit

    def labels(self, slot: int) -> tuple[tuple[str, str], ...]:
        """Current sorted label set of a series slot (changes when its target churns)."""
        t, m = divmod(slot, self._m)
        return (("__name__", self.names[m]), *self._target(t)[0])

    def label_bytes(self, slot: int) -> bytes:
        """RW 1.0 ``labels`` fields of a slot's current series (``label_field_bytes``)."""
        t, m = divmod(slot, self._m)
        return self._name_bytes[m] + self._target(t)[1]

    # -- samples ---------------------------------------------------------------

    def next_round(self) -> Round:
        """Advance one scrape: apply churn, step every value, stamp every sample."""
        spec = self.spec
        r = self._next_round
        self._next_round += 1
        if r > 0 and spec.churn > 0:
            k = round(spec.churn * self.targets)
            if k:
                churned = self._churn_rng.choice(self.targets, size=k, replace=False)
                self._generation[churned] += 1
        if r > 0:
            jitter = self._value_rng.integers(0, 3, size=spec.series)
            # gauges move in 30% of scrapes, by a value with two decimals
            moved = self._value_rng.random(size=spec.series) < 0.3
            walk = np.where(moved, np.round(self._value_rng.normal(0, 1, size=spec.series), 2), 0)
            self._values = np.where(
                self._is_counter, self._values + self._rates + jitter, self._values + walk
            )
        base = self.round_start_ms(r)
        ts = base + self._offsets[np.arange(spec.series) // self._m]
        self.last_round = Round(index=r, values=self._values.copy(), timestamps=ts)
        return self.last_round

    # -- encoding --------------------------------------------------------------

    def encode(self, rounds: int) -> Batch:
        """Generate and pre-encode the next ``rounds`` rounds, split per shard."""
        spec = self.spec
        batch = Batch(shards=[[] for _ in range(spec.shards)])
        pending: list[list[tuple[object, float, int]]] = [[] for _ in range(spec.shards)]
        # Labels are captured when the sample is generated: churn may change them later.
        label_of = self.label_bytes if spec.protocol == 1 else self.labels
        for i in range(rounds):
            rd = self.next_round()
            if i == 0:  # the first sample of this batch, to tell "slow" from "lost"
                self.first_probe = (self.labels(0), int(rd.timestamps[0]))
            vals = rd.values.tolist()
            tss = rd.timestamps.tolist()
            for shard in range(spec.shards):
                buf = pending[shard]
                for slot in range(shard, spec.series, spec.shards):
                    buf.append((label_of(slot), vals[slot], tss[slot]))
                    if len(buf) == spec.samples_per_request:
                        batch.shards[shard].append(self._encode_one(buf))
                        buf.clear()
        for shard, buf in enumerate(pending):
            if buf:
                batch.shards[shard].append(self._encode_one(buf))
        return batch

    def _encode_one(self, entries: list[tuple[object, float, int]]) -> EncodedRequest:
        values = [e[1] for e in entries]
        tss = [e[2] for e in entries]
        labels: list = [e[0] for e in entries]
        raw = encode_rw1(labels, values, tss) if self.spec.protocol == 1 else encode_rw2(
            labels, values, tss
        )
        return EncodedRequest(body=snappy(raw), samples=len(entries), raw_size=len(raw))

    def stream(self, rounds: int) -> Iterator[list[list[EncodedRequest]]]:
        """``encode(rounds)`` one round at a time: the same requests, byte for byte.

        Yields per round each shard's requests completed in it (a request may
        span two rounds, as in ``encode``), then one last item with the partial
        requests left over. Memory stays at one round whatever ``rounds`` is,
        and encoding runs at millions of samples/s: each shard's series are a
        fixed ``RW1Template`` that every round only re-stamps. RW 1.0 without
        churn only (churn would change the templates).
        """
        spec = self.spec
        if spec.protocol != 1 or spec.churn:
            raise ValueError("stream() needs remote write 1.0 without churn")
        spr = spec.samples_per_request
        carry: list[bytes] = [b""] * spec.shards  # raw records of a request not yet full
        carried = [0] * spec.shards
        for i in range(rounds):
            rd = self.next_round()
            if i == 0:
                self.first_probe = (self.labels(0), int(rd.timestamps[0]))
            ts_len = len(varint(int(rd.timestamps[0])))
            out = []
            for shard in range(spec.shards):
                tmpl = self._template(shard, ts_len)
                buf = tmpl.fill(rd.values[shard :: spec.shards],
                                rd.timestamps[shard :: spec.shards])
                starts = np.concatenate(([0], tmpl.ends))
                reqs, pos, n = [], 0, len(tmpl.ends)
                while n - pos >= spr - carried[shard]:
                    end = pos + spr - carried[shard]
                    piece = buf[starts[pos] : starts[end]]
                    raw = carry[shard] + piece.tobytes() if carried[shard] else piece
                    reqs.append(EncodedRequest(body=snappy(raw), samples=spr, raw_size=len(raw)))
                    carry[shard], carried[shard], pos = b"", 0, end
                if pos < n:
                    carry[shard] += buf[starts[pos] :].tobytes()
                    carried[shard] += n - pos
                out.append(reqs)
            yield out
        yield [
            [EncodedRequest(body=snappy(raw), samples=k, raw_size=len(raw))] if k else []
            for raw, k in zip(carry, carried, strict=True)
        ]

    def _template(self, shard: int, ts_len: int) -> RW1Template:
        tmpl = self._templates.get(shard)
        if tmpl is None or tmpl.ts_len != ts_len:
            slots = range(shard, self.spec.series, self.spec.shards)
            tmpl = RW1Template([self.label_bytes(s) for s in slots], ts_len)
            self._templates[shard] = tmpl
        return tmpl

    def round_start_ms(self, index: int) -> int:
        """Base timestamp of round ``index`` (each target adds its fixed offset)."""
        return self.start_ms + index * self.interval_ms

    def probes(self) -> list[tuple[tuple[tuple[str, str], ...], int]]:
        """(labels, timestamp ms) of the last sample of each shard in the last round.

        Once a system returns these, it has consumed everything sent before them
        on a log partition that keeps order (each shard's last request).
        """
        if self.last_round is None:
            return []
        out = []
        for shard in range(min(self.spec.shards, self.spec.series)):
            slot = shard + ((self.spec.series - 1 - shard) // self.spec.shards) * self.spec.shards
            out.append((self.labels(slot), int(self.last_round.timestamps[slot])))
        return out

    def iter_series(self) -> Iterator[tuple[tuple[str, str], ...]]:
        """Every current series' labels, in slot order."""
        for slot in range(self.spec.series):
            yield self.labels(slot)
