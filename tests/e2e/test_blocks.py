"""Blocks through the ``tidewell`` command: cut, shipped, served once the head is gone."""

from __future__ import annotations

import shutil
import signal
import time

import httpx
import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import TidewellProcess
from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress

SERIES = 20
STEP_MS = 30_000
HOURS = 3
FAST_BLOCKS = [
    "-auth.multitenancy-enabled=false",
    "-blocks-storage.tsdb.block-ranges-period=5m",
    "-blocks-storage.tsdb.head-compaction-interval=1s",
    "-blocks-storage.tsdb.ship-interval=1s",
    "-blocks-storage.bucket-store.sync-interval=1s",
    # The data is recent and the head is deleted below: ask the store for all of it.
    "-querier.query-store-after=0",
]


def metric(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return sum(
        s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name
    )


def push_hours(url: str, end_ms: int) -> int:
    per_series = HOURS * 3600_000 // STEP_MS
    labels = [Labels({"__name__": "blocks_e2e", "series": str(i)}.items()) for i in range(SERIES)]
    ts = end_ms - (per_series - 1 - np.arange(per_series, dtype=np.int64)) * STEP_MS
    for chunk in np.array_split(np.arange(per_series), 6):  # several requests, in order
        idx = np.repeat(np.arange(SERIES, dtype=np.int32), len(chunk))
        batch = SampleBatch(
            labels=labels,
            series_index=idx,
            timestamps=np.tile(ts[chunk], SERIES),
            values=np.tile(chunk.astype(np.float64), SERIES),
        )
        body = bytes(snappy_compress(encode_write_request(batch)))
        r = httpx.post(
            f"{url}/api/v1/push",
            content=body,
            timeout=30,
            headers={"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf"},
        )
        assert r.status_code in (200, 204), r.text
    return SERIES * per_series


def stored(url: str, at_ms: int) -> int:
    r = httpx.get(
        f"{url}/prometheus/api/v1/query",
        timeout=30,
        params={"query": f"sum(count_over_time(blocks_e2e[{HOURS + 1}h]))", "time": at_ms / 1000},
    )
    assert r.status_code == 200, r.text
    result = r.json()["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def test_blocks_are_shipped_and_served_after_the_head_is_gone(
    tidewell: TidewellProcess,
) -> None:
    tidewell.args = FAST_BLOCKS
    tidewell.start()
    end_ms = int(time.time() * 1000)
    total = push_hours(tidewell.url, end_ms)
    deadline = time.monotonic() + 120
    while metric(tidewell.url, "cortex_ingester_shipper_uploads_total") < 1:
        assert time.monotonic() < deadline, "no block was shipped"
        time.sleep(0.5)
    # Cut and ship what the 1.5-range rule keeps in the head, as before a scale-in.
    assert httpx.post(f"{tidewell.url}/ingester/flush", timeout=120).status_code == 204
    bucket = tidewell.data_dir / "bucket" / "anonymous"
    blocks = sorted(p.parent.name for p in bucket.glob("*/meta.json"))
    assert len(blocks) >= HOURS * 60 // 5  # one block per 5m range, at least
    assert (bucket / "bucket-index.json.gz").exists()
    assert metric(tidewell.url, "cortex_ingester_shipper_upload_failures_total") == 0
    assert metric(tidewell.url, "cortex_ingester_shipper_uploads_total") == len(blocks)
    assert (
        metric(tidewell.url, "cortex_ingester_shipper_last_successful_upload_timestamp_seconds") > 0
    )
    assert stored(tidewell.url, end_ms) == total

    assert tidewell.stop(signal.SIGTERM) == 0
    shutil.rmtree(tidewell.data_dir / "tsdb")  # the ingester's head, WAL and local blocks
    tidewell.start()
    assert metric(tidewell.url, "cortex_ingester_memory_series") == 0
    deadline = time.monotonic() + 60
    while (got := stored(tidewell.url, end_ms)) != total:
        assert time.monotonic() < deadline, f"{got} of {total} samples served from blocks"
        time.sleep(0.5)
