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
