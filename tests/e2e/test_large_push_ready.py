"""A large push decodes off the event loop: ``/ready`` keeps answering meanwhile.

The body expands from a few MB of snappy to ~50 MB: decompression, the RW 2.0 →
1.0 conversion of many series and the distributor's scan and validation all run
on worker threads, in calls that release the GIL. Before, they ran on the event
loop and ``/ready`` waited for all of it. Every series carries a label value
over the length limit, so the request ends in a 400 naming them and nothing
reaches the ingester: what is measured is the decoding alone.
"""

from __future__ import annotations

import threading
import time

import httpx

from tests.e2e.conftest import TidewellProcess
from tidewell.protocol import snappy_compress
from tidewell.protocol.pb import writev2_pb2 as pb2

SERIES = 16_000


def big_rw2_body(now_ms: int) -> tuple[bytes, int]:
    """An RW 2.0 request of SERIES series with 3,000-byte label values (~50 MB decoded)."""
    req = pb2.Request()
    req.symbols.extend(["", "__name__", "large_push", "id", "pad"])
    pad = "p" * 3000  # over -validation.max-length-label-value (2048)
    for i in range(SERIES):
        base = len(req.symbols)
        req.symbols.extend([f"{i:09d}", f"{pad}{i}"])
        ts = req.timeseries.add()
        ts.labels_refs.extend([1, 2, 3, base, 4, base + 1])
        ts.samples.add(value=float(i), timestamp=now_ms)
    raw = req.SerializeToString()
    return bytes(snappy_compress(raw)), len(raw)


def test_ready_answers_while_a_large_push_decodes(tidewell: TidewellProcess) -> None:
    tidewell.args = ["-distributor.max-recv-msg-size=209715200"]
    tidewell.start()
    body, decoded = big_rw2_body(int(time.time() * 1000))
    assert decoded > 45 * 2**20
    latencies: list[float] = []
    done = threading.Event()
    outcome: dict[str, object] = {}

    def push() -> None:
        t0 = time.perf_counter()
        r = httpx.post(f"{tidewell.url}/api/v1/push", content=body, timeout=300, headers={
            "Content-Encoding": "snappy", "X-Scope-OrgID": "big",
            "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request",
            "X-Prometheus-Remote-Write-Version": "2.0.0"})
        outcome["status"], outcome["seconds"] = r.status_code, time.perf_counter() - t0
        done.set()

    with httpx.Client(base_url=tidewell.url, timeout=30) as c:
        assert c.get("/ready").status_code == 200  # the connection is open
        worker = threading.Thread(target=push)
        worker.start()
        while not done.is_set():  # from the start: on a quiet machine the push takes ~0.5 s
            t0 = time.perf_counter()
            assert c.get("/ready").status_code == 200
            latencies.append(time.perf_counter() - t0)
            time.sleep(0.005)
        worker.join()
    assert outcome["status"] == 400, outcome
    assert len(latencies) >= 5, (latencies, outcome)  # the push took a while
    latencies.sort()
    print(f"push {outcome['seconds']:.2f}s, /ready during it: n={len(latencies)} "
          f"p50={latencies[len(latencies) // 2] * 1000:.1f} ms max={latencies[-1] * 1000:.1f} ms")
    # Before: one /ready waited for the whole decode (2.8 s on the loaded 2-core machine),
    # then up to 345 ms while single GIL-holding calls ran (upb parse and serialize, a copy
    # of the decompressed body). Snappy into a buffer and the compiled RW 2.0 transcoder
    # release the GIL: max 25-63 ms at load ~10 (the old code: 345-395 ms).
    assert latencies[int(len(latencies) * 0.9)] < 0.25, latencies[-10:]
    # A loop blocked by the decode makes one /ready wait for most of the push, a call
    # holding the GIL on the whole body for a few hundred ms.
    assert latencies[-1] < min(0.2, 0.5 * float(outcome["seconds"])), (latencies[-5:], outcome)
