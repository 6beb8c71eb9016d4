"""On embedded defaults a newcomer's Prometheus is never turned away with 429.

Before, Mimir's 10,000 samples/s (burst 200,000) applied to the one-process mode: a stock
Prometheus with 1M active series at 15 s (~67k samples/s), or any backlog, got 429s and
Prometheus 2.x dropped those samples; and series past 150,000 were dropped by the
ingester after their push had been acknowledged.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np

from tests.e2e.conftest import TidewellProcess
from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress

SERIES = 10_000
PER_SERIES = 10  # 100,000 samples per request, as a catching-up Prometheus sends in bulk
REQUESTS = 20  # 2,000,000 samples of 200,000 series: past Mimir's 150,000-series default


def body(series_offset: int, start_ms: int) -> bytes:
    labels = [Labels.from_dict({"__name__": "burst_test", "i": str(series_offset + i)})
              for i in range(SERIES)]
    idx = np.repeat(np.arange(SERIES, dtype=np.int32), PER_SERIES)
    ts = np.tile(start_ms + 15_000 * np.arange(PER_SERIES, dtype=np.int64), SERIES)
    batch = SampleBatch(labels=labels, series_index=idx, timestamps=ts,
                        values=np.ones(SERIES * PER_SERIES))
    return bytes(snappy_compress(encode_write_request(batch)))


def test_two_million_sample_burst_from_one_tenant_is_accepted_and_kept(
        tidewell: TidewellProcess) -> None:
    tidewell.start()
    start = int(time.time() * 1000) - 15_000 * PER_SERIES
    bodies = [body(SERIES * k, start) for k in range(REQUESTS)]
    headers = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
               "X-Prometheus-Remote-Write-Version": "0.1.0", "X-Scope-OrgID": "newcomer"}

    def push(b: bytes) -> httpx.Response:
        return httpx.post(f"{tidewell.url}/api/v1/push", content=b, headers=headers,
                          timeout=120)

    t0 = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(push, bodies))
    elapsed = time.monotonic() - t0
    assert [r.status_code for r in answers] == [200] * REQUESTS, \
        [(r.status_code, r.text[:200]) for r in answers if r.status_code != 200]
    # A burst, not a trickle: Mimir's defaults would have refilled only a fraction of it.
    assert elapsed < (REQUESTS * SERIES * PER_SERIES - 200_000) / 10_000
    deadline = time.monotonic() + 120
    while True:  # and every acknowledged sample is kept
        r = httpx.get(f"{tidewell.url}/prometheus/api/v1/query",
                      params={"query": "sum(count_over_time(burst_test[10m]))",
                              "time": (start + 15_000 * PER_SERIES) / 1000},
                      headers={"X-Scope-OrgID": "newcomer"}, timeout=60)
        assert r.status_code == 200, r.text
        result = r.json()["data"]["result"]
        if result and result[0]["value"][1] == str(REQUESTS * SERIES * PER_SERIES):
            break
        assert time.monotonic() < deadline, result
        time.sleep(1)
