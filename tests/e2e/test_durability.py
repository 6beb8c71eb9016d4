"""Acknowledged writes survive SIGKILL: restart on the same data dir finds every sample."""

from __future__ import annotations

import signal

import httpx
import numpy as np

from tests.e2e.conftest import TidewellProcess
from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress

SERIES = 50
SAMPLES_PER_SERIES = 40
BASE_MS = 1_700_000_000_000


def request_body(round_: int) -> bytes:
    labels = [
        Labels({"__name__": "durability_test", "series": str(i), "job": "e2e"}.items())
        for i in range(SERIES)
    ]
    idx = np.repeat(np.arange(SERIES, dtype=np.int32), SAMPLES_PER_SERIES)
    ts = np.tile(
        BASE_MS + (round_ * SAMPLES_PER_SERIES + np.arange(SAMPLES_PER_SERIES)) * 15_000, SERIES
    ).astype(np.int64)
    values = ts.astype(np.float64) / 1000.0 + idx
    batch = SampleBatch(labels=labels, series_index=idx, timestamps=ts, values=values)
    return bytes(snappy_compress(encode_write_request(batch)))


def push(url: str, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/push",
        content=body,
        timeout=30,
        headers={
            "Content-Encoding": "snappy",
            "Content-Type": "application/x-protobuf",
            "X-Prometheus-Remote-Write-Version": "0.1.0",
            "X-Scope-OrgID": "team-a",
        },
    )


def count_samples(url: str, end_ms: int) -> int:
    r = httpx.get(
        f"{url}/prometheus/api/v1/query_range",
        params={
            "query": "durability_test",
            "start": BASE_MS / 1000,
            "end": end_ms / 1000,
            "step": "15s",
        },
        headers={"X-Scope-OrgID": "team-a"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return sum(len(s["values"]) for s in r.json()["data"]["result"])


def test_sigkill_after_ack_loses_nothing(tidewell: TidewellProcess) -> None:
    tidewell.args = ["-querier.query-ingesters-within=0"]  # old samples, still in the head
    tidewell.start()
    rounds = 3
    for round_ in range(rounds):
        assert push(tidewell.url, request_body(round_)).status_code in (200, 204)
    end_ms = BASE_MS + (rounds * SAMPLES_PER_SERIES - 1) * 15_000
    tidewell.stop(signal.SIGKILL)
    tidewell.start()
    assert count_samples(tidewell.url, end_ms) == SERIES * SAMPLES_PER_SERIES * rounds
