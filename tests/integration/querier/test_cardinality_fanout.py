"""Cardinality across ingesters: real uvicorn servers on loopback serving
``internal_cardinality_routes`` over real heads, two partitions with an owner in each of
two zones (one lagging), read through the rings by ``PartitionsCardinality`` and the
HTTP API on top of it. Counts are exact: the lagging replica is not added twice."""

from __future__ import annotations

import time

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from tests.support.ingester import make_batch
from tidewell.api.cardinality import cardinality_routes
from tidewell.api.internal import internal_cardinality_routes
from tidewell.api.server import build_app
from tidewell.api.status_tsdb import status_tsdb_routes
from tidewell.distributor.limits import Limits, Overrides
from tidewell.model import Labels
from tidewell.querier.cardinality import PartitionsCardinality
from tidewell.querier.partitions import PartitionsQueryable
from tidewell.querier.replicas import NoReplicaError

from .test_meta_fanout import Rings, registry

pytestmark = pytest.mark.timeout(60)


def series(pod: str, code: str) -> Labels:
    return Labels.from_dict({"__name__": "http_requests_total", "job": "api", "pod": pod,
                             "code": code})


@pytest.fixture
def cluster(serve):  # type: ignore[no-untyped-def]
    """Partition 0 holds pod x (codes 200, 500; zone a has not consumed 500 yet),
    partition 1 pod y (code 200); tenant t2 has one series of its own."""
    now = int(time.time() * 1000)  # "active" is judged against the wall clock
    regs = {iid: registry() for iid in ("ingester-zone-a-0", "ingester-zone-b-0",
                                        "ingester-zone-a-1", "ingester-zone-b-1")}
    for iid, reg in regs.items():
        t, _ = reg.get_or_create("t1")
        if iid.endswith("-0"):
            samples = [(series("x", "200"), now, 1.0)]
            if "zone-b" in iid:
                samples.append((series("x", "500"), now, 1.0))
        else:
            samples = [(series("y", "200"), now, 1.0)]
        t.head.append(make_batch(samples))
        if iid.endswith("-1"):
            other, _ = reg.get_or_create("t2")
            other.head.append(make_batch([(Labels.from_dict({"__name__": "t2_only"}), now, 1)]))
    servers = {iid: serve(Starlette(routes=internal_cardinality_routes(reg, 600)))
               for iid, reg in regs.items()}
    rings = Rings({iid: (int(iid[-1]), srv.url.removeprefix("http://"))
                   for iid, srv in servers.items()})
    partitions = PartitionsQueryable(rings, rings, timeout_s=5)
    yield PartitionsCardinality(partitions), servers
    for p in partitions.partition_ids("t1"):
        partitions.replica_set(p).close()


def test_counts_merge_across_partitions_and_zones(cluster) -> None:
    source, servers = cluster
    st = source.label_stats("t1", [], count_method="inmemory")
    assert st.series == 3
    assert st.pairs == {"__name__": {"http_requests_total": 3}, "code": {"200": 2, "500": 1},
                        "job": {"api": 3}, "pod": {"x": 2, "y": 1}}
    assert st.head.num_series == 3
    assert [str(ls) for ls in source.active_series("t1", [])] == [
        str(series("x", "200")), str(series("y", "200")), str(series("x", "500"))]
    assert source.label_stats("t2", [], count_method="active").pairs == {
        "__name__": {"t2_only": 1}}
    servers["ingester-zone-b-0"].stop()  # the complete replica: zone a's answer is used
    assert source.label_stats("t1", [], count_method="inmemory").pairs["code"] == {"200": 2}
    servers["ingester-zone-a-0"].stop()
    with pytest.raises(NoReplicaError):
        source.label_stats("t1", [], count_method="inmemory")


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_http_api_over_the_fanout(cluster) -> None:
    source, _ = cluster
    overrides = Overrides(Limits(cardinality_analysis_enabled=True,
                                 active_series_results_max_size_bytes=100))
    api = Mount("/prometheus", routes=[*cardinality_routes(source, overrides.for_tenant),
                                       *status_tsdb_routes(source, overrides.for_tenant)])
    app = build_app([api], multitenancy_enabled=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t", headers={"X-Scope-OrgID": "t1"}) as c:
        r = await c.get("/prometheus/api/v1/cardinality/label_values",
                        params={"label_names[]": ["pod", "code"]})
        assert r.json() == {"series_count_total": 3, "labels": [
            {"label_name": "code", "label_values_count": 2, "series_count": 3,
             "cardinality": [{"label_value": "200", "series_count": 2},
                             {"label_value": "500", "series_count": 1}]},
            {"label_name": "pod", "label_values_count": 2, "series_count": 3,
             "cardinality": [{"label_value": "x", "series_count": 2},
                             {"label_value": "y", "series_count": 1}]}]}
        r = await c.get("/prometheus/api/v1/status/tsdb")
        assert r.json()["data"]["seriesCountByLabelValuePair"][:2] == [
            {"name": "__name__=http_requests_total", "value": 3},
            {"name": "job=api", "value": 3}]
        # 44 bytes a series: each ingester's answer fits, the merged one does not.
        r = await c.get("/prometheus/api/v1/cardinality/active_series",
                        params={"selector": "http_requests_total"})
        assert r.status_code == 413 and "active-series-results-max-size-bytes" in r.text
