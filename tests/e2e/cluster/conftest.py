"""Small local clusters for the launcher tests (on each broker), the multi-process wiring, and
one cluster shared by the modules that only read and write their own tenant's data.

A cluster takes 30-60 s to start and stop on the 2-core CI machine. ``shared_cluster`` is
started once for every test that asks for it; those tests are run one after another
(``pytest_collection_modifyitems``) and the cluster is stopped after the last of them, so
it never runs beside another module's cluster. Its users keep each other out by tenant:
each module pushes and reads its own tenants only, and restarts whatever it kills.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tidewell.tool.localcluster.supervisor import BROKERS, ClusterLayout, LocalCluster

SHARED = "shared_cluster"
SHARDS = 4  # -query-frontend.query-sharding-total-shards of the shared cluster


def small_layout() -> ClusterLayout:
    """The components that run alone today: one ingester and one distributor on Kafka."""
    return ClusterLayout(zones=1, partitions=1, distributors=1, queriers=0, store_gateways=0,
                         query_frontends=0, compactors=0)


def new_cluster(root: Path, layout: ClusterLayout | None = None, **kwargs: object) -> LocalCluster:
    kwargs.setdefault("ready_timeout_s", 60.0)
    kwargs.setdefault("stop_timeout_s", 20.0)
    return LocalCluster(root, layout or small_layout(), base_port=0, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=BROKERS)
def small_cluster(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = new_cluster(tmp_path_factory.mktemp("cluster"), broker=request.param)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def shared_layout() -> ClusterLayout:
    """Two zones x two partitions (every series on two ingesters), two queriers (shards go
    to both), a store-gateway, a compactor, a query-frontend and two rulers."""
    return ClusterLayout(zones=2, partitions=2, distributors=1, queriers=2, store_gateways=1,
                         query_frontends=1, compactors=1, rulers=2)


# What each user needs, all at once: cardinality analysis (test_cardinality_cluster), query
# sharding over both queriers without the results cache (test_query_sharding_cluster),
# compaction and block sync within seconds (test_compactor_cluster), rule groups and ruler
# ring changes seen within seconds (test_ruler_ring: HEARTBEAT_TIMEOUT_S there), ingesters'
# appendable floors polled every second (test_out_of_bounds_cluster waits for two rounds).
SHARED_SETTINGS = {
    "querier.cardinality-analysis-enabled": "true",
    "query-frontend.parallelize-shardable-queries": "true",
    "query-frontend.query-sharding-total-shards": str(SHARDS),
    "query-frontend.cache-results": "false",
    "blocks-storage.bucket-store.sync-interval": "2s",
    "compactor.compaction-interval": "2s",
    "compactor.cleanup-interval": "2s",
    "compactor.first-level-compaction-wait-period": "0s",
    "ruler.poll-interval": "1s",
    "ruler.ring.heartbeat-period": "1s",
    "ruler.ring.heartbeat-timeout": "5s",
    "distributor.appendable-floors-poll-interval": "1s",
}


class _Shared:
    """The one shared cluster: started on first use, stopped when no next test needs it."""

    cluster: LocalCluster | None = None

    @classmethod
    def get(cls, tmp_path_factory: pytest.TempPathFactory) -> LocalCluster:
        if cls.cluster is None:
            c = new_cluster(tmp_path_factory.mktemp("shared"), shared_layout(),
                            broker="kafka", settings=SHARED_SETTINGS, ready_timeout_s=180.0)
            c.start()
            cls.cluster = c
        return cls.cluster

    @classmethod
    def stop(cls) -> None:
        c, cls.cluster = cls.cluster, None
        if c is not None:
            c.stop()


@pytest.fixture
def shared_cluster(tmp_path_factory: pytest.TempPathFactory) -> LocalCluster:
    """The shared cluster (see the module docstring); the test uses its own tenants."""
    return _Shared.get(tmp_path_factory)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the shared cluster's users one after another, where the first of them was."""
    users = [i for i in items if SHARED in getattr(i, "fixturenames", ())]
    if not users:
        return
    first = items.index(users[0])
    rest = [i for i in items if SHARED not in getattr(i, "fixturenames", ())]
    items[:] = rest[:first] + users + rest[first:]


def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    if nextitem is None or SHARED not in getattr(nextitem, "fixturenames", ()):
        _Shared.stop()


def pytest_sessionfinish() -> None:
    _Shared.stop()  # an interrupted run leaves no processes behind either
