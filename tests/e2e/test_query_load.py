"""Heavy queries run off the event loop on ``-querier.max-concurrent`` workers: ``/ready``
and pushes answer while 30 query loops run, and SIGTERM under those loops ends promptly.

Before the query workers, queries ran on anyio's 40-thread pool (all 30 at once, fighting
the HTTP loop for the GIL) and parsing on the event loop; the issue measured pushes going
from p99 12 ms to 1 s beside 30 query loops.
"""

from __future__ import annotations

import signal
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
HEAVY = "count_over_time(load_test[1h:250ms])"  # 14.4k inner steps x 200 series per query
LOOPS = 30


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


def _loaded(tidewell: TidewellProcess) -> int:
    """Start with SERIES x 1 h of samples, queryable; return the hour's end (ms)."""
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
    return now


def test_ready_and_pushes_answer_while_query_loops_run(tidewell: TidewellProcess) -> None:
    now = _loaded(tidewell)

    done: list[float] = []
    errors: list[str] = []
    until = time.monotonic() + 8.0

    def heavy() -> None:
        t0 = time.monotonic()
        n = 0
        with httpx.Client(timeout=120) as c:
            while time.monotonic() < until:
                r = c.get(f"{tidewell.url}/prometheus/api/v1/query", headers=HEADERS,
                          params={"query": HEAVY, "time": str(now / 1000)})
                if r.status_code != 200 or len(r.json()["data"]["result"]) != SERIES:
                    errors.append(r.text[:300])
                n += 1
        done.append(n / (time.monotonic() - t0))

    threads = [threading.Thread(target=heavy) for _ in range(LOOPS)]
    for t in threads:
        t.start()
    time.sleep(0.3)  # the queries are parsed, fetched and evaluating
    ready_ms, push_ms = [], []
    other = [Labels([("__name__", "beside_load"), ("i", str(i))]) for i in range(100)]
    with httpx.Client(timeout=10) as c:
        k = 0
        while len(done) < LOOPS:
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
    assert len(ready_ms) >= 20
    print(f"/ready ms: max {max(ready_ms):.1f} p95 {np.percentile(ready_ms, 95):.1f} p50 "
          f"{np.median(ready_ms):.1f}; push ms: max {max(push_ms):.1f} p95 "
          f"{np.percentile(push_ms, 95):.1f} p50 {np.median(push_ms):.1f}; queries/s "
          f"{sum(done):.2f}; {len(ready_ms)} probes")
    # The machine is shared (2 cores, other test runs beside): one OS scheduling delay may
    # pass 100 ms on any request, loaded or not, hence percentiles. Measured here with the
    # 30 loops (load average 6-8): p95 /ready 9-26 ms and push 17-44 ms; with all 30
    # queries evaluating at once on anyio's pool (main before the query workers), /ready
    # 44-105 ms and push 85-218 ms.
    assert np.percentile(ready_ms, 95) < 40
    assert max(ready_ms) < 1000
    assert np.percentile(push_ms, 95) < 100
    # Query work stepped aside for the pushes in flight (util/priority.py): worker threads
    # at their checkpoints, the frontend's steps on the event loop as tasks.
    text = httpx.get(f"{tidewell.url}/metrics").text
    assert _sample(text, 'tidewell_query_write_yields_total{where="worker"}') > 0


def test_sigterm_under_query_loops_drains_and_keeps_acknowledged_pushes(
        tidewell: TidewellProcess) -> None:
    """SIGTERM with the loops running: the process drains and exits 0 well inside the 30 s
    graceful timeout (it took all of it while the HTTP server stopped last), every
    request gets an answer (200, or 503 for a query not started), and the pushes
    acknowledged before the signal are all there after a restart."""
    now = _loaded(tidewell)
    answered: dict[int, int] = {}
    failures: list[str] = []
    stop = threading.Event()

    def loop() -> None:
        with httpx.Client(timeout=60) as c:
            while not stop.is_set():
                try:
                    r = c.get(f"{tidewell.url}/prometheus/api/v1/query", headers=HEADERS,
                              params={"query": HEAVY, "time": str(now / 1000)})
                    answered[r.status_code] = answered.get(r.status_code, 0) + 1
                    if r.status_code == 503:
                        assert "shutting down" in r.json()["error"], r.text
                except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError):
                    return  # the listener closed, or a keep-alive connection closed when idle
                except Exception as exc:  # reported by the test thread
                    failures.append(repr(exc))
                    return

    threads = [threading.Thread(target=loop) for _ in range(LOOPS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    other = [Labels([("__name__", "beside_load"), ("i", str(i))]) for i in range(100)]
    pushes = 0
    while sum(answered.values()) < 2 and time.monotonic() < deadline:
        # the loops are running: pushes beside them, each acknowledged before the signal
        body = _body(other, np.array([now + pushes * 1000], dtype=np.int64))
        assert _push(tidewell.url, body).status_code in (200, 204)
        pushes += 1
    assert pushes > 0
    t0 = time.monotonic()
    assert tidewell.stop(signal.SIGTERM, timeout_s=30) == 0
    exit_s = time.monotonic() - t0
    stop.set()
    for t in threads:
        t.join(10)
        assert not t.is_alive(), "a client hangs after the shutdown"
    print(f"exit {exit_s:.2f} s after SIGTERM under {LOOPS} loops; answers {answered}")
    assert not failures, failures
    assert set(answered) <= {200, 503}, answered
    # Measured here (2 cores, load 4-10): 0.6-1.5 s; before the drain, 32 s.
    assert exit_s < 10
    logs = tidewell.logs()
    assert "server drained" in logs and "Traceback" not in logs
    tidewell.start()
    r = httpx.get(f"{tidewell.url}/prometheus/api/v1/query", headers=HEADERS, params={
        "query": "sum(count_over_time(beside_load[10m]))", "time": (now + pushes * 1000) / 1000})
    assert float(r.json()["data"]["result"][0]["value"][1]) == pushes * 100


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0
