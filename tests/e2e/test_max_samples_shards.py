"""``-querier.max-samples`` as Prometheus counts it, through the real ``tidewell`` process: a
range function over more samples than the limit, none of whose series' windows passes it,
is answered (Prometheus 3 answers it with the same ``--query.max-samples``); a series whose
window alone passes the limit is still a 422."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest

from tests.e2e.conftest import TidewellProcess
from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress

SERIES, POINTS, STEP = 40, 240, 15_000  # 9,600 samples, 240 per series
LIMIT = 1_000
TENANT = "shards"


def push(url: str, batch: SampleBatch) -> None:
    r = httpx.post(f"{url}/api/v1/push",
                   content=bytes(snappy_compress(encode_write_request(batch))),
                   headers={"Content-Encoding": "snappy",
                            "Content-Type": "application/x-protobuf",
                            "X-Prometheus-Remote-Write-Version": "0.1.0",
                            "X-Scope-OrgID": TENANT}, timeout=30)
    assert r.status_code == 200, r.text


def query(url: str, q: str, at_s: float) -> httpx.Response:
    return httpx.get(f"{url}/prometheus/api/v1/query", params={"query": q, "time": at_s},
                     headers={"X-Scope-OrgID": TENANT}, timeout=30)


def test_range_function_past_max_samples_is_answered(tidewell: TidewellProcess) -> None:
    tidewell.args = [f"-querier.max-samples={LIMIT}"]
    tidewell.start()
    end = int(time.time()) * 1000
    ts = end - (POINTS - 1 - np.arange(POINTS, dtype=np.int64)) * STEP
    labels = [Labels.from_dict({"__name__": "shards_total", "i": str(i)})
              for i in range(SERIES)]
    big = Labels.from_dict({"__name__": "shards_big"})  # 5 samples per 15 s: 1,200 an hour
    big_ts = end - np.arange(5 * POINTS, dtype=np.int64)[::-1] * 3000
    push(tidewell.url, SampleBatch(
        labels=[*labels, big],
        series_index=np.concatenate([np.repeat(np.arange(SERIES, dtype=np.int32), POINTS),
                                     np.full(len(big_ts), SERIES, dtype=np.int32)]),
        timestamps=np.concatenate([np.tile(ts, SERIES), big_ts]),
        values=np.concatenate([np.tile(np.arange(POINTS, dtype=np.float64), SERIES),
                               np.ones(len(big_ts))])))
    at = end / 1000
    deadline = time.monotonic() + 30
    while True:  # consumed into the head
        r = query(tidewell.url, 'count_over_time(shards_total{i="0"}[1h])', at)
        if r.status_code == 200 and r.json()["data"]["result"] \
                and r.json()["data"]["result"][0]["value"][1] == str(POINTS):
            break
        assert time.monotonic() < deadline, r.text
        time.sleep(0.1)

    r = query(tidewell.url, "count_over_time(shards_total[1h])", at)
    assert r.status_code == 200, r.text
    result = r.json()["data"]["result"]
    assert len(result) == SERIES and {s["value"][1] for s in result} == {str(POINTS)}
    r = query(tidewell.url, "sum(rate(shards_total[1h]))", at)
    assert r.status_code == 200, r.text
    # 0 to 239 over 3,585 s, no extrapolation past the zero point or the last sample
    rate = float(r.json()["data"]["result"][0]["value"][1])
    assert rate == pytest.approx(SERIES * (POINTS - 1) / 3600, rel=1e-12)

    r = query(tidewell.url, "count_over_time(shards_big[1h])", at)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == ("query processing would load too many samples into memory "
                                 "in query execution")
