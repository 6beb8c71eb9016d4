"""Two rulers share the groups through the ruler ring in etcd: each group is evaluated by
exactly one of them, once per interval; SIGKILL one and the other takes its groups over
within the ring's heartbeat timeout.

On the shared cluster (tests/e2e/cluster/conftest.py), with its own tenant: its two
``-target=ruler`` processes evaluate through the query-frontend and write to the log
through their own distributor. The test deletes its groups and restarts the ruler it
killed.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.e2e.cluster.conftest import SHARED_SETTINGS
from tidewell.tool.localcluster.supervisor import LocalCluster

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

TENANT = "rulers"  # the shared cluster's other users have their own
HEADERS = {"X-Scope-OrgID": TENANT}
# Names far apart: FNV-1a keys that differ only in their last byte land close on the ring.
GROUPS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
          "juliet", "kilo", "lima"]
HEARTBEAT_TIMEOUT_S = 5.0
assert SHARED_SETTINGS["ruler.ring.heartbeat-timeout"] == f"{HEARTBEAT_TIMEOUT_S:g}s"


def iterations(url: str) -> dict[str, float]:
    """``rule_group → cortex_prometheus_rule_group_iterations_total`` on one ruler."""
    text = httpx.get(f"{url}/metrics", timeout=30).text
    pattern = (r'cortex_prometheus_rule_group_iterations_total'
               r'\{rule_group="ns;(\w+)",user="' + TENANT + r'"\} (\S+)')
    return {g: float(v) for g, v in re.findall(pattern, text)}


def evaluated_by(url: str, local: bool = True) -> set[str]:
    """Groups with an evaluation: on this ruler only, or on any (the merged read API)."""
    groups = httpx.get(f"{url}/prometheus/api/v1/rules", headers=HEADERS, timeout=30,
                       params={"local": "true"} if local else {}).json()["data"]["groups"]
    return {g["name"] for g in groups if g["lastEvaluation"] != "0001-01-01T00:00:00Z"}


def test_each_group_once_and_sigkill_moves_groups(shared_cluster: LocalCluster) -> None:
    try:
        each_group_once_and_sigkill_moves_groups(shared_cluster)
    finally:  # the shared cluster as found: no rule groups of ours, both rulers running
        r = httpx.delete(f"{shared_cluster.process('ruler-0').url}/prometheus/config/v1/rules/ns",
                         headers=HEADERS, timeout=30)
        assert r.status_code == 202, r.text
        shared_cluster.restart("ruler-1")


def each_group_once_and_sigkill_moves_groups(cluster: LocalCluster) -> None:
    r0, r1 = cluster.process("ruler-0").url, cluster.process("ruler-1").url
    frontend = cluster.process("query-frontend-0").url
    for g in GROUPS:
        body = f"name: {g}\ninterval: 1s\nrules:\n  - record: rec_{g}\n    expr: vector(1)\n"
        r = httpx.post(f"{r0}/prometheus/config/v1/rules/ns", content=body, headers=HEADERS,
                       timeout=30)
        assert r.status_code == 202, r.text
    created = time.time()
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

    # A 6 s window from just after the groups were created (each had one owner by the check
    # above; the metrics below say none ever had two), ending at least 5 s past that check.
    at = max(created + 7, time.time() + 5)
    time.sleep(max(0.0, at + 1 - time.time()))
    for g in GROUPS:
        r = httpx.get(f"{frontend}/prometheus/api/v1/query", headers=HEADERS, timeout=30,
                      params={"query": f"count_over_time(rec_{g}[6s])", "time": at})
        [res] = r.json()["data"]["result"]
        # At most one sample a second: one writer (two would write ~12). (A loaded machine
        # may miss slots: cortex_prometheus_rule_group_iterations_missed_total counts them.)
        assert 1 <= float(res["value"][1]) <= 7, (g, res)
    both = iterations(r0).keys() & iterations(r1).keys()
    assert not both, f"evaluated on both rulers: {both}"

    moved = evaluated_by(r1)
    cluster.kill("ruler-1")
    killed, killed_at = time.monotonic(), time.time()
    while time.monotonic() - killed < 60:
        if evaluated_by(r0) == set(GROUPS):
            break
        time.sleep(0.25)
    took = time.monotonic() - killed
    assert evaluated_by(r0) == set(GROUPS), evaluated_by(r0)
    # Heartbeat timeout, plus one poll and one evaluation interval, plus scheduling slack.
    assert took <= HEARTBEAT_TIMEOUT_S + 5, took
    # Each moved group gets samples written after the kill (by ruler-0, the only one left).
    not_moved = set(moved)
    deadline = time.monotonic() + 30
    while not_moved:
        for g in sorted(not_moved):
            r = httpx.get(f"{frontend}/prometheus/api/v1/query", headers=HEADERS, timeout=30,
                          params={"query": f"timestamp(rec_{g}) > {killed_at:.3f}"})
            if r.json()["data"]["result"]:
                not_moved.discard(g)
        assert time.monotonic() < deadline, f"{sorted(not_moved)} not evaluated after the move"
        time.sleep(0.5)
