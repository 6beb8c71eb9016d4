"""Through the ``tidewell`` command (one process): samples older than the tenant's head
accepts are refused with 400 before the ack, not acknowledged and dropped."""

from __future__ import annotations

import time

import httpx
import numpy as np

from tests.e2e.conftest import TidewellProcess
from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress

HEADERS = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
           "X-Prometheus-Remote-Write-Version": "0.1.0", "X-Scope-OrgID": "oob"}


def body(name: str, ts: list[int]) -> bytes:
    batch = SampleBatch([Labels.from_dict({"__name__": name})],
                        np.zeros(len(ts), dtype=np.int32), np.array(ts, dtype=np.int64),
                        np.ones(len(ts)))
    return bytes(snappy_compress(encode_write_request(batch)))


def test_too_old_for_the_head_is_refused_with_400(tidewell: TidewellProcess) -> None:
    tidewell.start()
    now = int(time.time() * 1000)
    with httpx.Client(base_url=tidewell.url, timeout=30, headers=HEADERS) as c:
        assert c.post("/api/v1/push", content=body("fresh", [now])).status_code == 200
        deadline = time.monotonic() + 30
        while True:  # consumed into the head: its window now reaches back 1h from `now`
            r = c.get("/prometheus/api/v1/query", params={"query": "fresh", "time": now / 1000})
            if r.json()["data"]["result"]:
                break
            assert time.monotonic() < deadline
            time.sleep(0.1)
        r = c.post("/api/v1/push", content=body("stale", [now - 7_200_000]))
        assert r.status_code == 400, r.text
        assert "sample-timestamp-too-old" in r.text and "stale" in r.text
        assert c.post("/api/v1/push", content=body("fresh2", [now - 1_000])).status_code == 200
