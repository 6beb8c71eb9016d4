"""Heavy queries run off the event loop: ``/ready`` and pushes answer while they run.

Before the query workers, queries ran on anyio's 40-thread pool and parsing on the event
loop; the issue measured pushes going from p99 12 ms to 1 s beside 30 query loops.
"""

from __future__ import annotations

import threading
import time

import httpx
import numpy as np

from tests.e2e.conftest import TidewellProcess
from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress

SERIES = 200
SAMPLES = 240  # one hour at 15 s
HEADERS = {"X-Scope-OrgID": "team-a"}
HEAVY = "count_over_time(load_test[1h:25ms])"  # 144k inner steps x 200 series per query


def _body(labels: list[Labels], ts: np.ndarray) -> bytes:
    n = len(ts)
    idx = np.repeat(np.arange(len(labels), dtype=np.int32), n)
    batch = SampleBatch(labels=labels, series_index=idx, timestamps=np.tile(ts, len(labels)),
                        values=np.ones(n * len(labels)))
    return bytes(snappy_compress(encode_write_request(batch)))


def _push(url: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{url}/api/v1/push", content=body, timeout=30, headers={
        **HEADERS, "Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0"})


def test_ready_and_pushes_answer_while_four_heavy_queries_run(
        tidewell: TidewellProcess) -> None:
    tidewell.start()
    now = int(time.time() * 1000) // 15_000 * 15_000
    labels = [Labels([("__name__", "load_test"), ("i", str(i))]) for i in range(SERIES)]
    ts = now - 3_600_000 + np.arange(SAMPLES, dtype=np.int64) * 15_000
    assert _push(tidewell.url, _body(labels, ts)).status_code in (200, 204)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # ingest is asynchronous: wait until it is queryable
        r = httpx.get(f"{tidewell.url}/prometheus/api/v1/query", headers=HEADERS,
                      params={"query": "count_over_time(load_test[1h])", "time": now / 1000})
        if len(r.json()["data"]["result"]) == SERIES:
            break
        time.sleep(0.2)

    done: list[float] = []
    errors: list[str] = []

    def heavy() -> None:
        t0 = time.monotonic()
        r = httpx.get(f"{tidewell.url}/prometheus/api/v1/query", headers=HEADERS, timeout=120,
                      params={"query": HEAVY, "time": str(now / 1000)})
        if r.status_code != 200 or len(r.json()["data"]["result"]) != SERIES:
            errors.append(r.text[:300])
        done.append(time.monotonic() - t0)

    threads = [threading.Thread(target=heavy) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.3)  # the queries are parsed, fetched and evaluating
    ready_ms, push_ms = [], []
    other = [Labels([("__name__", "beside_load"), ("i", str(i))]) for i in range(100)]
    with httpx.Client(timeout=10) as c:
        k = 0
        while len(done) < 4:
            t0 = time.perf_counter()
            assert c.get(f"{tidewell.url}/ready").status_code == 200
            ready_ms.append((time.perf_counter() - t0) * 1000)
            body = _body(other, np.array([now + k * 1000], dtype=np.int64))
            t0 = time.perf_counter()
            r = c.post(f"{tidewell.url}/api/v1/push", content=body, headers={
                **HEADERS, "Content-Encoding": "snappy",
                "Content-Type": "application/x-protobuf",
                "X-Prometheus-Remote-Write-Version": "0.1.0"})
            push_ms.append((time.perf_counter() - t0) * 1000)
            assert r.status_code in (200, 204), r.text
            k += 1
            time.sleep(0.05)
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(ready_ms) >= 10, "the heavy queries ended before they could be measured against"
    print(f"/ready ms: max {max(ready_ms):.1f} p50 {np.median(ready_ms):.1f}; push ms: max "
          f"{max(push_ms):.1f} p50 {np.median(push_ms):.1f}; queries took "
          f"{[round(d, 1) for d in done]} s; {len(ready_ms)} probes")
    assert max(ready_ms) < 100
