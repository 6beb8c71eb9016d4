"""Exemplars and metadata from ingesters in other processes' place: real uvicorn servers
on loopback serving ``internal_meta_routes`` over real ``TenantRegistry`` stores, read
by ``PartitionsMetaSource`` through the partition and ingester rings, and by the query
API on top of it."""

from __future__ import annotations

import time

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from tidewell.api.internal import internal_meta_routes
from tidewell.api.prometheus import query_routes
from tidewell.api.server import build_app
from tidewell.ingester import StaticLimits, TenantRegistry
from tidewell.ingester.limits import LocalLimits
from tidewell.model import Exemplar, Labels, Matcher, MatchType, MetricMetadata, MetricType
from tidewell.querier.config import QuerierConfig
from tidewell.querier.meta import PartitionsMetaSource
from tidewell.querier.partitions import PartitionsQueryable
from tidewell.querier.replicas import NoReplicaError
from tidewell.ring import InstanceDesc, InstanceRing, InstanceRingDesc, InstanceState
from tidewell.ring.model import PartitionRingDesc, PartitionState
from tidewell.ring.partition_ring import PartitionRing

from .conftest import MemoryQueryable

pytestmark = pytest.mark.timeout(60)

X = Labels.from_dict({"__name__": "http_requests_total", "job": "api", "pod": "x"})
Y = Labels.from_dict({"__name__": "http_requests_total", "job": "api", "pod": "y"})
EVERYTHING = [[Matcher(MatchType.EQUAL, "job", "api")]]
COUNTER = MetricMetadata("http_requests_total", MetricType.COUNTER, "Requests.", "")


def ex(tid: str, ts: int, value: float = 1.0) -> Exemplar:
    return Exemplar(Labels.from_dict({"trace_id": tid}), value, ts)


def registry() -> TenantRegistry:
    return TenantRegistry(7_200_000, LocalLimits(StaticLimits(), lambda: 1))


class Rings:
    """The partition ring and the ingester ring, as the querier's watchers serve them."""

    def __init__(self, owners: dict[str, tuple[int, str]]) -> None:
        now = time.time()
        self.desc = PartitionRingDesc()
        for pid in sorted({p for p, _ in owners.values()}):
            self.desc.add_partition(pid, PartitionState.ACTIVE, now)
        instances = {}
        for iid, (pid, addr) in owners.items():
            self.desc.add_or_update_owner(iid, pid, now)
            instances[iid] = InstanceDesc(iid, addr, iid.split("-")[2], InstanceState.ACTIVE,
                                          [], now, now)
        self.instances = InstanceRingDesc(instances)

    def partition_ring(self) -> PartitionRing:
        return PartitionRing(self.desc)

    def instance_ring(self) -> InstanceRing:
        return InstanceRing(self.instances, name="ingester")


@pytest.fixture
def cluster(serve):  # type: ignore[no-untyped-def]
    """Partitions 0 and 1, each owned by an ingester in zone a and zone b."""
    regs = {iid: registry() for iid in ("ingester-zone-a-0", "ingester-zone-b-0",
                                        "ingester-zone-a-1", "ingester-zone-b-1")}
    for iid, reg in regs.items():
        t, _ = reg.get_or_create("t1")
        if iid.endswith("-0"):
            t.exemplars.add(X, [ex("x1", 1000), ex("x2", 2000, 2.0)])
            if "zone-b" in iid:  # zone a lags: it has not consumed x3 yet
                t.exemplars.add(X, [ex("x3", 3000, 3.0)])
            t.metadata.add([COUNTER, MetricMetadata("up", MetricType.GAUGE, "Up.", "")])
        else:
            t.exemplars.add(Y, [ex("y1", 1500)])
            t.metadata.add([COUNTER, MetricMetadata("mem_bytes", MetricType.GAUGE, "Memory.",
                                                    "bytes")])
        other, _ = reg.get_or_create("t2")
        other.exemplars.add(X, [ex("secret", 1000)])
        other.metadata.add([MetricMetadata("t2_only", MetricType.INFO, "T2.", "")])
    servers = {iid: serve(Starlette(routes=internal_meta_routes(reg)))
               for iid, reg in regs.items()}
    rings = Rings({iid: (int(iid[-1]), srv.url.removeprefix("http://"))
                   for iid, srv in servers.items()})
    partitions = PartitionsQueryable(rings, rings, timeout_s=5)
    return PartitionsMetaSource(partitions), servers, partitions


def traces(answer: list[tuple[Labels, list[Exemplar]]]) -> list[tuple[str, list[str]]]:
    return [(ls.get("pod"), [e.labels.get("trace_id") for e in exs]) for ls, exs in answer]


def test_every_owner_is_asked_and_answers_merged_without_duplicates(cluster) -> None:
    source, _, partitions = cluster
    try:
        got = source.exemplars("t1", 0, 10_000, EVERYTHING)
        assert traces(got) == [("x", ["x1", "x2", "x3"]), ("y", ["y1"])]
        assert [e.value for e in got[0][1]] == [1.0, 2.0, 3.0]
        assert traces(source.exemplars("t1", 1500, 2000, EVERYTHING)) == [
            ("x", ["x2"]), ("y", ["y1"])]
        assert source.metadata("t1") == [
            COUNTER, MetricMetadata("mem_bytes", MetricType.GAUGE, "Memory.", "bytes"),
            MetricMetadata("up", MetricType.GAUGE, "Up.", "")]
        assert [m.metric_family_name for m in source.metadata("t1", limit=2)] == [
            "http_requests_total", "mem_bytes"]
        assert source.metadata("t1", metric="up") == [
            MetricMetadata("up", MetricType.GAUGE, "Up.", "")]
        # Tenants stay apart over the wire too.
        assert traces(source.exemplars("t2", 0, 10_000, EVERYTHING)) == [("x", ["secret"])]
        assert [m.metric_family_name for m in source.metadata("t2")] == ["t2_only"]
        assert source.exemplars("nobody", 0, 10_000, EVERYTHING) == []
    finally:
        for p in partitions.partition_ids("t1"):
            partitions.replica_set(p).close()


def test_one_owner_down_is_tolerated_all_owners_down_fails(cluster) -> None:
    source, servers, partitions = cluster
    try:
        servers["ingester-zone-a-1"].stop()
        assert traces(source.exemplars("t1", 0, 10_000, EVERYTHING)) == [
            ("x", ["x1", "x2", "x3"]), ("y", ["y1"])]
        servers["ingester-zone-b-1"].stop()
        with pytest.raises(NoReplicaError):
            source.exemplars("t1", 0, 10_000, EVERYTHING)
        with pytest.raises(NoReplicaError):
            source.metadata("t1")
    finally:
        for p in partitions.partition_ids("t1"):
            partitions.replica_set(p).close()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_query_api_over_the_fanout(cluster) -> None:
    source, _, partitions = cluster
    api = Mount("/prometheus",
                routes=query_routes(MemoryQueryable({}), QuerierConfig(), source))
    app = build_app([api], multitenancy_enabled=True)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://t") as client:
            r = await client.get("/prometheus/api/v1/query_exemplars",
                                 headers={"X-Scope-OrgID": "t1"},
                                 params={"query": 'rate(http_requests_total{pod="x"}[1m])',
                                         "start": "0", "end": "10"})
            assert r.json()["data"] == [{
                "seriesLabels": {"__name__": "http_requests_total", "job": "api", "pod": "x"},
                "exemplars": [
                    {"labels": {"trace_id": "x1"}, "value": "1", "timestamp": 1},
                    {"labels": {"trace_id": "x2"}, "value": "2", "timestamp": 2},
                    {"labels": {"trace_id": "x3"}, "value": "3", "timestamp": 3}]}]
            r = await client.get("/prometheus/api/v1/metadata",
                                 headers={"X-Scope-OrgID": "t1"},
                                 params={"metric": "http_requests_total"})
            assert r.json()["data"] == {
                "http_requests_total": [{"type": "counter", "help": "Requests.", "unit": ""}]}
    finally:
        for p in partitions.partition_ids("t1"):
            partitions.replica_set(p).close()
