"""Per-tenant TSDB registry and its state machine."""

from __future__ import annotations

from tidewell.ingester import TenantRegistry, TSDBState


def test_registry_creates_once_and_states_change_by_compare_and_swap() -> None:
    reg = TenantRegistry(block_range_ms=7_200_000)
    a, created = reg.get_or_create("t1")
    again, created_again = reg.get_or_create("t1")
    assert created and not created_again and a is again
    assert reg.get("nobody") is None and len(reg) == 1
    assert a.state is TSDBState.ACTIVE
    assert not a.cas_state(TSDBState.CLOSING, TSDBState.CLOSED)
    assert a.state is TSDBState.ACTIVE
    assert a.cas_state(TSDBState.ACTIVE, TSDBState.CLOSING)
    assert a.cas_state(TSDBState.CLOSING, TSDBState.CLOSED)
    assert a.state is TSDBState.CLOSED


def test_tenants_get_their_own_exemplar_and_metadata_stores_with_local_limits() -> None:
    from tidewell.ingester import StaticLimits
    from tidewell.ingester.limits import LocalLimits
    from tidewell.model import Exemplar, Labels, Matcher, MatchType, MetricMetadata, MetricType

    partitions = [4]
    limits = LocalLimits(StaticLimits(max_exemplars=8, max_metadata=8), lambda: partitions[0])
    reg = TenantRegistry(block_range_ms=7_200_000, limits=limits)
    a, _ = reg.get_or_create("a")
    b, _ = reg.get_or_create("b")
    series = Labels.from_dict({"__name__": "m", "job": "x"})
    # 8 across 4 partitions: this ingester keeps 2 per tenant.
    res = a.exemplars.add(series, [Exemplar(Labels(), float(i), i) for i in range(5)])
    assert res.appended == 5 and len(a.exemplars) == 2
    a.metadata.add([MetricMetadata("m", MetricType.GAUGE, "help a")])
    everything = [[Matcher(MatchType.EQUAL, "job", "x")]]
    assert [e.timestamp for _, exs in reg.exemplars("a", 0, 10, everything) for e in exs] == [3, 4]
    assert reg.exemplars("b", 0, 10, everything) == []
    assert reg.exemplars("nobody", 0, 10, everything) == []
    assert reg.metadata("a") == [MetricMetadata("m", MetricType.GAUGE, "help a")]
    assert reg.metadata("b") == [] and reg.metadata("nobody") == []
    partitions[0] = 1  # the limit follows the partition count
    b.exemplars.add(series, [Exemplar(Labels(), 0.0, i) for i in range(10)])
    assert len(b.exemplars) == 8
