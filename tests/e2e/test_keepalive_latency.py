"""A GET right after a POST on one keep-alive connection answers at once.

Before, accepted sockets kept Nagle on (the listening socket was made with proto 0, so
asyncio skipped ``TCP_NODELAY``): a response written in two sends waited for the client's
delayed ACK, and ``GET /ready`` after ``POST /api/v1/push`` took ~44 ms.
"""

from __future__ import annotations

import statistics
import time

import httpx
import numpy as np

from tests.e2e.conftest import TidewellProcess
from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress

LABELS = [Labels.from_dict({"__name__": "keepalive_test", "i": str(i)}) for i in range(100)]


def body(ts_ms: int) -> bytes:
    batch = SampleBatch(labels=LABELS, series_index=np.arange(100, dtype=np.int32),
                        timestamps=np.full(100, ts_ms, dtype=np.int64), values=np.ones(100))
    return bytes(snappy_compress(encode_write_request(batch)))


def test_get_after_post_on_one_connection_is_not_delayed(tidewell: TidewellProcess) -> None:
    tidewell.start()
    headers = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
               "X-Prometheus-Remote-Write-Version": "0.1.0", "X-Scope-OrgID": "keepalive"}
    gets: list[float] = []
    ports: set[int] = set()
    with httpx.Client(base_url=tidewell.url, timeout=30) as c:
        for i in range(21):
            r = c.post("/api/v1/push", content=body(int(time.time() * 1000) + i),
                       headers=headers)
            assert r.status_code == 200, r.text
            t0 = time.perf_counter()
            g = c.get("/ready")
            elapsed = time.perf_counter() - t0
            assert g.status_code == 200, g.text
            stream = g.extensions["network_stream"]
            ports.add(stream.get_extra_info("socket").getsockname()[1])
            if i:  # the first pair also opens the connection
                gets.append(elapsed)
    assert len(ports) == 1  # one keep-alive connection throughout
    assert statistics.median(gets) < 0.010, [round(g * 1000, 1) for g in gets]
