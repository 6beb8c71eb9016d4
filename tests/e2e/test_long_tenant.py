"""A valid 150-character tenant ID survives head snapshots, a restart and shipping.

Before, the snapshot file was named by the hex of the tenant (300 characters):
``File name too long`` stopped snapshots for every tenant.
"""

from __future__ import annotations

import time

import httpx
import numpy as np

from tests.e2e.conftest import TidewellProcess
from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress

TENANT = ("team-" + "a!-_.*'()Z" * 15)[:150]


def push(url: str, ts_ms: int) -> httpx.Response:
    labels = [Labels.from_dict({"__name__": "long_tenant_test", "i": str(i)}) for i in range(5)]
    batch = SampleBatch(labels=labels, series_index=np.arange(5, dtype=np.int32),
                        timestamps=np.full(5, ts_ms, dtype=np.int64), values=np.arange(5.0))
    return httpx.post(f"{url}/api/v1/push",
                      content=bytes(snappy_compress(encode_write_request(batch))),
                      headers={"Content-Encoding": "snappy",
                               "Content-Type": "application/x-protobuf",
                               "X-Prometheus-Remote-Write-Version": "0.1.0",
                               "X-Scope-OrgID": TENANT}, timeout=60)


def count(url: str, at_s: float) -> int:
    r = httpx.get(f"{url}/prometheus/api/v1/query",
                  params={"query": "count(long_tenant_test)", "time": at_s},
                  headers={"X-Scope-OrgID": TENANT}, timeout=30)
    assert r.status_code == 200, r.text
    result = r.json()["data"]["result"]
    return int(result[0]["value"][1]) if result else 0


def test_150_char_tenant_snapshot_restart_and_flush(tidewell: TidewellProcess) -> None:
    assert len(TENANT) == 150
    tidewell.start()
    now = int(time.time() * 1000)
    assert push(tidewell.url, now).status_code == 200
    deadline = time.monotonic() + 30
    while count(tidewell.url, now / 1000) != 5:  # consumed into the head
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert tidewell.stop() == 0  # SIGTERM: the head snapshot is written on the way out
    snaps = list((tidewell.data_dir / "tsdb" / "snapshots").glob("snapshot-*/*.head.npz"))
    assert [p.name for p in snaps] == [TENANT + ".head.npz"]
    assert "File name too long" not in tidewell.logs()
    tidewell.start()
    assert count(tidewell.url, now / 1000) == 5
    r = httpx.post(f"{tidewell.url}/ingester/flush", timeout=60)
    assert r.status_code == 204, r.text
    blocks = list((tidewell.data_dir / "tsdb" / "tenants" / TENANT).glob("*/meta.json"))
    assert len(blocks) == 1
    shipped = list((tidewell.data_dir / "bucket").rglob(f"{blocks[0].parent.name}/meta.json"))
    assert len(shipped) == 1 and shipped[0].parent.parent.name == TENANT
    assert count(tidewell.url, now / 1000) == 5  # from the block now
