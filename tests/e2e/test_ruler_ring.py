"""Two rulers share the groups through the ruler ring in etcd: each group is evaluated by
exactly one of them, once per interval; SIGKILL one and the other takes its groups over
within the ring's heartbeat timeout.

A local cluster (tansu broker, etcd, moto) with one ingester, distributor, querier,
store-gateway and query-frontend, plus two ``-target=ruler`` processes that evaluate
through the query-frontend and write to the log through their own distributor.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.cluster.conftest import new_cluster
from tidewell.tool.localcluster.supervisor import ClusterLayout, LocalCluster

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

HEADERS = {"X-Scope-OrgID": "team-a"}
# Names far apart: FNV-1a keys that differ only in their last byte land close on the ring.
GROUPS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
          "juliet", "kilo", "lima"]
HEARTBEAT_TIMEOUT_S = 5.0


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    c = new_cluster(tmp_path_factory.mktemp("rulers"),
                    ClusterLayout(zones=1, partitions=1, distributors=1, queriers=1,
                                  store_gateways=1, query_frontends=1, rulers=2),
                    broker="tansu",
                    settings={"ruler.poll-interval": "1s", "ruler.ring.heartbeat-period": "1s",
                              "ruler.ring.heartbeat-timeout": f"{HEARTBEAT_TIMEOUT_S:g}s"},
                    ready_timeout_s=180.0)
    c.start()
    try:
        yield c
    finally:
        c.stop()


def iterations(url: str) -> dict[str, float]:
    """``rule_group → cortex_prometheus_rule_group_iterations_total`` on one ruler."""
    text = httpx.get(f"{url}/metrics", timeout=30).text
    pattern = (r'cortex_prometheus_rule_group_iterations_total'
               r'\{rule_group="ns;(\w+)",user="team-a"\} (\S+)')
    return {g: float(v) for g, v in re.findall(pattern, text)}


def evaluated_by(url: str, local: bool = True) -> set[str]:
    """Groups with an evaluation: on this ruler only, or on any (the merged read API)."""
    groups = httpx.get(f"{url}/prometheus/api/v1/rules", headers=HEADERS, timeout=30,
                       params={"local": "true"} if local else {}).json()["data"]["groups"]
    return {g["name"] for g in groups if g["lastEvaluation"] != "0001-01-01T00:00:00Z"}


def test_each_group_once_and_sigkill_moves_groups(cluster: LocalCluster, tmp_path: Path) -> None:
    r0, r1 = cluster.process("ruler-0").url, cluster.process("ruler-1").url
    frontend = cluster.process("query-frontend-0").url
    for g in GROUPS:
        body = f"name: {g}\ninterval: 1s\nrules:\n  - record: rec_{g}\n    expr: vector(1)\n"
        r = httpx.post(f"{r0}/prometheus/config/v1/rules/ns", content=body, headers=HEADERS,
                       timeout=30)
        assert r.status_code == 202, r.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        a, b = evaluated_by(r0), evaluated_by(r1)
        if a | b == set(GROUPS):
            break
        time.sleep(0.5)
    assert a | b == set(GROUPS), (a, b)
    assert not a & b, f"groups evaluated by both rulers: {a & b}"
    assert a and b, "the ring gave every group to one ruler"
    # Either ruler's read API shows every group's evaluation (Mimir's fan-out).
    assert evaluated_by(r0, local=False) == evaluated_by(r1, local=False) == set(GROUPS)

    time.sleep(12)
    at = time.time() - 1
    for g in GROUPS:
        r = httpx.get(f"{frontend}/prometheus/api/v1/query", headers=HEADERS, timeout=30,
                      params={"query": f"count_over_time(rec_{g}[10s])", "time": at})
        [res] = r.json()["data"]["result"]
        # At most one sample a second: one writer. (A loaded machine may miss slots:
        # cortex_prometheus_rule_group_iterations_missed_total counts them.)
        assert 1 <= float(res["value"][1]) <= 11, (g, res)
    both = iterations(r0).keys() & iterations(r1).keys()
    assert not both, f"evaluated on both rulers: {both}"

    moved = evaluated_by(r1)
    cluster.kill("ruler-1")
    killed = time.monotonic()
    while time.monotonic() - killed < 60:
        if evaluated_by(r0) == set(GROUPS):
            break
        time.sleep(0.25)
    took = time.monotonic() - killed
    assert evaluated_by(r0) == set(GROUPS), evaluated_by(r0)
    # Heartbeat timeout, plus one poll and one evaluation interval, plus scheduling slack.
    assert took <= HEARTBEAT_TIMEOUT_S + 5, took
    time.sleep(3)
    for g in moved:
        r = httpx.get(f"{frontend}/prometheus/api/v1/query", headers=HEADERS, timeout=30,
                      params={"query": f"rec_{g}", "time": time.time() - 0.5})
        assert r.json()["data"]["result"], f"{g} not evaluated after the move"
