"""``/api/v1/status/tsdb`` and the cardinality API over HTTP: Tidewell beside Prometheus 3
on the same head.

Run by hand (never as a timed test)::

    PYTHONPATH=src:. python -m benchmarks.bench_cardinality [--series 100000] [--reps 5]

Both servers (pinned to core 0) get the same series (10 labels each: 100 metric names,
10 jobs, 1,000 instances, a unique ``pod``, …; one sample each) by remote write. Then
each endpoint is timed end to end from this process (core 1), median of ``--reps``:
Prometheus's ``/api/v1/status/tsdb`` on both, and Tidewell's Mimir cardinality
endpoints (which Prometheus does not have): ``label_names`` over the whole head and
with a selector matching 10%, ``label_values`` of two labels, ``active_series`` of 10%.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from benchmarks.launch import Prometheus3Server, Server, TidewellServer, pin_self
from benchmarks.wire import RW1_HEADERS
from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress

PER_REQUEST = 2_000


def series_labels(i: int) -> Labels:
    return Labels.from_dict({
        "__name__": f"metric_{i % 100}", "job": f"job_{i % 10}", "instance": f"host-{i // 100}",
        "cluster": "c1", "env": "prod", "region": f"r{i % 3}", "pod": f"pod-{i}",
        "le": str(i % 7), "code": str(200 + i % 5), "team": f"t{i % 4}"})


def push_all(server: Server, n: int) -> None:
    now = int(time.time() * 1000)
    with httpx.Client(timeout=120) as client:
        for start in range(0, n, PER_REQUEST):
            ids = range(start, min(n, start + PER_REQUEST))
            batch = SampleBatch(labels=[series_labels(i) for i in ids],
                                series_index=np.arange(len(ids), dtype=np.int32),
                                timestamps=np.full(len(ids), now, dtype=np.int64),
                                values=np.ones(len(ids)))
            r = client.post(server.push_url, content=bytes(snappy_compress(
                encode_write_request(batch))), headers=RW1_HEADERS)
            r.raise_for_status()


def wait_series(server: Server, n: int) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        r = httpx.get(server.api_url("query"), params={"query": 'count({cluster="c1"})'},
                      timeout=120).json()["data"]["result"]
        if r and int(float(r[0]["value"][1])) == n:
            return
        time.sleep(0.5)
    raise RuntimeError(f"{server.name}: {n} series not queryable")


def timed(url: str, params: dict[str, object], reps: int) -> tuple[float, int]:
    times = []
    size = 0
    with httpx.Client(timeout=300) as client:
        for _ in range(reps):
            t0 = time.perf_counter()
            r = client.get(url, params=params)
            times.append(time.perf_counter() - t0)
            r.raise_for_status()
            size = len(r.content)
    return statistics.median(times) * 1000, size


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    pin_self({1})
    n = args.series
    rows: list[tuple[str, str, float, int]] = []
    with tempfile.TemporaryDirectory(prefix="bench-card-") as tmp:
        for cls in (Prometheus3Server, TidewellServer):
            extra = {"extra_args": ["-querier.cardinality-analysis-enabled=true"]} \
                if cls is TidewellServer else {}
            server = cls(Path(tmp) / cls.name, **extra)  # type: ignore[arg-type]
            with server:
                server.wait_ready()
                push_all(server, n)
                wait_series(server, n)
                ms, size = timed(server.api_url("status/tsdb"), {"limit": 10}, args.reps)
                rows.append((server.name, "status/tsdb?limit=10", ms, size))
                if cls is not TidewellServer:
                    continue
                for label, path, params in (
                    ("cardinality/label_names", "cardinality/label_names", {}),
                    ("cardinality/label_names, selector {job=\"job_3\"}",
                     "cardinality/label_names", {"selector": '{job="job_3"}'}),
                    ("cardinality/label_values job, code", "cardinality/label_values",
                     {"label_names[]": ["job", "code"]}),
                    ("cardinality/active_series {job=\"job_3\"}", "cardinality/active_series",
                     {"selector": '{job="job_3"}'}),
                ):
                    ms, size = timed(server.api_url(path), params, args.reps)
                    rows.append((server.name, label, ms, size))
    print(f"| server | endpoint ({n:,} series x 10 labels, median of {args.reps}) "
          "| time | response |")
    print("|---|---|---:|---:|")
    for name, label, ms, size in rows:
        print(f"| {name} | {label} | {ms:.0f} ms | {size / 1024:.1f} KiB |")


if __name__ == "__main__":
    main()
