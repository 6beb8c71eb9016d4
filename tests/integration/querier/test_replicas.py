"""ReplicaSetQueryable: one partition served by two zones, one of them down."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from tidewell.model import Matcher
from tidewell.querier.remote import RemoteQueryError
from tidewell.querier.replicas import NoReplicaError, ReplicaSetQueryable

from .conftest import MemoryQueryable, free_port, internal_app, sample_data

pytestmark = pytest.mark.timeout(60)
ALL = (0, 2**62)
SEL = [Matcher.equal("job", "job0")]


def fallbacks() -> float:
    return REGISTRY.get_sample_value("tidewell_querier_replica_fallbacks_total") or 0.0


def test_one_replica_down_answers_from_the_other(serve) -> None:
    data = sample_data()
    want = MemoryQueryable(data).querier("t1", *ALL).select(SEL)
    zone_a = serve(internal_app(MemoryQueryable(data)))
    zone_b = serve(internal_app(MemoryQueryable(data)))
    rs = ReplicaSetQueryable([zone_a.url, zone_b.url], timeout_s=5, shuffle=False)
    try:
        assert [s.labels for s in rs.querier("t1", *ALL).select(SEL)] == [s.labels for s in want]
        zone_a.stop()
        before = fallbacks()
        got = rs.querier("t1", *ALL).select(SEL)
        assert [s.labels for s in got] == [s.labels for s in want]
        assert fallbacks() == before + 1
        assert rs.ordered() == [zone_b.url, zone_a.url]  # the failed zone is asked last
        assert rs.querier("t1", *ALL).label_values("job") == ["job0", "job1", "job2"]
        assert fallbacks() == before + 1  # zone-b asked first now: no second fallback
    finally:
        rs.close()


def test_candidates_come_from_a_callable(serve) -> None:
    zone_b = serve(internal_app(MemoryQueryable(sample_data())))
    dead = f"http://127.0.0.1:{free_port()}"
    owners = [dead]
    rs = ReplicaSetQueryable(lambda: owners, timeout_s=5)
    try:
        with pytest.raises(NoReplicaError) as info:
            rs.querier("t1", *ALL).label_names()
        assert dead in str(info.value)
        owners.append(zone_b.url)  # the ring learned of a new owner
        assert rs.querier("t1", *ALL).label_names() == ["__name__", "instance", "job", "zone"]
        owners.clear()
        with pytest.raises(NoReplicaError, match="no replica owns"):
            rs.querier("t1", *ALL).select(SEL)
    finally:
        rs.close()


def test_client_errors_do_not_fall_over(serve) -> None:
    zone_a = serve(internal_app(MemoryQueryable(sample_data())))
    zone_b = serve(internal_app(MemoryQueryable(sample_data())))
    rs = ReplicaSetQueryable([zone_a.url, zone_b.url], timeout_s=5, shuffle=False)
    try:
        before = fallbacks()
        with pytest.raises(RemoteQueryError) as info:
            rs.querier("bad tenant!", *ALL).select(SEL)
        assert info.value.status == 400 and info.value.url.startswith(zone_a.url)
        assert fallbacks() == before and rs.ordered() == [zone_a.url, zone_b.url]
    finally:
        rs.close()
