"""Small local clusters for the launcher tests (on each broker), and the multi-process wiring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tidewell.tool.localcluster.supervisor import BROKERS, ClusterLayout, LocalCluster


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
