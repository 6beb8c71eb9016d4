"""Query sharding, per-tenant delayed name removal and ``stats`` in the real ``tidewell``:
data pushed by remote write, read back from the head through the query-frontend."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import numpy as np

from tests.e2e.conftest import TidewellProcess
from tidewell.model import Labels, SampleBatch
from tidewell.protocol import encode_write_request, snappy_compress

SERIES = 30


def push(url: str, tenant: str, now_ms: int) -> None:
    labels = [Labels.from_dict({"__name__": name, "i": str(i), "job": f"j{i % 3}"})
              for name in ("a_total", "b_total") for i in range(SERIES)]
    n = len(labels)
    times = [now_ms - k * 30_000 for k in range(10, -1, -1)]
    batch = SampleBatch(labels=labels,
                        series_index=np.tile(np.arange(n, dtype=np.int32), len(times)),
                        timestamps=np.repeat(np.array(times, dtype=np.int64), n),
                        values=np.concatenate([np.arange(n, dtype=np.float64) * k
                                               for k in range(len(times))]))
    r = httpx.post(f"{url}/api/v1/push",
                   content=bytes(snappy_compress(encode_write_request(batch))),
                   headers={"Content-Encoding": "snappy",
                            "Content-Type": "application/x-protobuf",
                            "X-Prometheus-Remote-Write-Version": "0.1.0",
                            "X-Scope-OrgID": tenant}, timeout=30)
    assert r.status_code == 200, r.text


def get(url: str, tenant: str, path: str, **params: object) -> httpx.Response:
    return httpx.get(f"{url}/prometheus/api/v1/{path}", params=params,
                     headers={"X-Scope-OrgID": tenant}, timeout=60)


def metric(url: str, name: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def test_sharding_names_and_stats_through_the_process(tidewell: TidewellProcess,
                                                      tmp_path: Path) -> None:
    runtime = tmp_path / "runtime.yaml"
    runtime.write_text("overrides:\n"
                       "  unsharded:\n    query_sharding_total_shards: 0\n"
                       "  delayed:\n    enable_delayed_name_removal: true\n")
    tidewell.args = ["-query-frontend.parallelize-shardable-queries=true",
                     "-query-frontend.query-sharding-total-shards=4",
                     f"-runtime-config.file={runtime}"]
    tidewell.start()
    now = int(time.time() * 1000)
    for tenant in ("sharded", "unsharded", "delayed"):
        push(tidewell.url, tenant, now)
    deadline = time.monotonic() + 30
    while not get(tidewell.url, "delayed", "query", query="count(a_total)",
                  time=now / 1000).json()["data"]["result"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.5)

    before = metric(tidewell.url, "cortex_frontend_query_sharding_rewrites_succeeded_total")
    shards_before = metric(tidewell.url, "cortex_frontend_sharded_queries_total")
    for q in ("sum by (job) (rate(a_total[2m]))", "avg(b_total)", "max(a_total) - min(b_total)"):
        params = {"query": q, "start": now / 1000 - 240, "end": now / 1000, "step": 30}
        sharded = get(tidewell.url, "sharded", "query_range", **params).json()
        plain = get(tidewell.url, "unsharded", "query_range", **params).json()
        assert sharded["status"] == "success" and sharded["data"]["result"], sharded
        assert [s["metric"] for s in sharded["data"]["result"]] == \
            [s["metric"] for s in plain["data"]["result"]]
        for a, b in zip(sharded["data"]["result"], plain["data"]["result"], strict=True):
            assert [p[0] for p in a["values"]] == [p[0] for p in b["values"]]
            np.testing.assert_allclose([float(p[1]) for p in a["values"]],
                                       [float(p[1]) for p in b["values"]], rtol=1e-12)
    assert metric(tidewell.url, "cortex_frontend_query_sharding_rewrites_succeeded_total") \
        == before + 3
    # 4 shards; avg and the difference have two legs each
    assert metric(tidewell.url, "cortex_frontend_sharded_queries_total") == shards_before + 20

    q = 'sum(rate({__name__=~".+_total"}[2m]))'
    r = get(tidewell.url, "sharded", "query", query=q, time=now / 1000)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "vector cannot contain metrics with the same labelset"
    r = get(tidewell.url, "delayed", "query", query=q, time=now / 1000)
    assert r.status_code == 200 and len(r.json()["data"]["result"]) == 1, r.text

    r = get(tidewell.url, "unsharded", "query_range", query="count(a_total)",
            start=now / 1000 - 60, end=now / 1000, step=30, stats="all")
    samples = r.json()["data"]["stats"]["samples"]
    assert [c for _, c in samples["totalQueryableSamplesPerStep"]] == [SERIES] * 3
    assert samples["totalQueryableSamples"] == 3 * SERIES
