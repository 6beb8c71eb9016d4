"""Query sharding across processes: the query-frontend splits a query into shards that go to
both queriers, and merges an answer equal to the one a querier gives unsharded."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from tests.e2e.cluster.conftest import SHARDS
from tidewell.protocol import snappy_compress
from tidewell.protocol.pb import prompb_pb2 as pb
from tidewell.tool.localcluster.supervisor import LocalCluster

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SERIES, POINTS = 40, 20
TENANT = {"X-Scope-OrgID": "sharding"}  # the shared cluster's other users have their own
QUERIES = (
    "sum by (job) (rate(http_requests_total[1m]))",
    "max by (job) (http_requests_total)",
    "count(http_requests_total > 100)",
)
_READS = re.compile(r"^tidewell_querier_remote_request_duration_seconds_count\{[^}]*\} (\S+)$",
                    re.M)
_SHARDED = re.compile(r"^cortex_frontend_sharded_queries_total (\S+)$", re.M)


@pytest.fixture
def cluster(shared_cluster: LocalCluster) -> LocalCluster:
    """tests/e2e/cluster/conftest.py: sharding into ``SHARDS``, no results cache."""
    return shared_cluster


def _push(url: str, end_ms: int) -> None:
    req = pb.WriteRequest()
    for i in range(SERIES):
        ts = req.timeseries.add()
        for n, v in (("__name__", "http_requests_total"), ("job", f"job-{i % 4}"),
                     ("pod", f"pod-{i}")):
            ts.labels.add(name=n, value=v)
        for k in range(POINTS):
            ts.samples.add(value=float(i * k), timestamp=end_ms - (POINTS - 1 - k) * 15_000)
    r = httpx.post(f"{url}/api/v1/push", content=bytes(snappy_compress(req.SerializeToString())),
                   timeout=30, headers={"Content-Encoding": "snappy",
                                        "Content-Type": "application/x-protobuf",
                                        "X-Prometheus-Remote-Write-Version": "0.1.0",
                                        **TENANT})
    assert r.status_code in (200, 204), r.text


def _range(base: str, query: str, end_s: float) -> Any:
    r = httpx.get(f"{base}/prometheus/api/v1/query_range", timeout=60,
                  headers={"X-Read-Consistency": "strong", **TENANT},
                  params={"query": query, "start": f"{end_s - 240:.3f}", "end": f"{end_s:.3f}",
                          "step": "15"})
    assert r.status_code == 200, r.text
    return sorted(r.json()["data"]["result"], key=lambda s: sorted(s["metric"].items()))


def _same(got: Any, want: Any) -> bool:
    """Same series and timestamps; values equal up to float rounding (shards sum apart)."""
    return [s["metric"] for s in got] == [s["metric"] for s in want] and all(
        [t for t, _ in a["values"]] == [t for t, _ in b["values"]]
        and float(x) == pytest.approx(float(y), rel=1e-12)
        for a, b in zip(got, want, strict=True)
        for (_, x), (_, y) in zip(a["values"], b["values"], strict=True))


def _metric(url: str, pattern: re.Pattern[str]) -> float:
    return sum(float(v) for v in pattern.findall(httpx.get(f"{url}/metrics", timeout=10).text))


def test_sharded_answers_equal_unsharded_and_both_queriers_serve_shards(
        cluster: LocalCluster) -> None:
    end_ms = int(time.time() * 1000) // 15_000 * 15_000
    _push(cluster.process("distributor-0").url, end_ms)
    frontend = cluster.process("query-frontend-0").url
    queriers = [cluster.process(f"querier-{i}").url for i in range(2)]
    end_s = end_ms / 1000
    unsharded = {q: _range(queriers[0], q, end_s) for q in QUERIES}  # strong: all pushed
    assert len(unsharded[QUERIES[0]]) == 4
    assert len(unsharded[QUERIES[1]][0]["values"]) == 17

    reads = [_metric(u, _READS) for u in queriers]
    sharded_before = _metric(frontend, _SHARDED)
    for q in QUERIES:
        assert _same(_range(frontend, q, end_s), unsharded[q]), q
    assert _metric(frontend, _SHARDED) - sharded_before == SHARDS * len(QUERIES)
    after = [_metric(u, _READS) for u in queriers]
    # Every shard query reads the ingesters: both queriers took some of them.
    assert all(b > a for a, b in zip(reads, after, strict=True)), (reads, after)
