"""The public surface other packages build on, pinned; and the produce-ack debug log."""

from __future__ import annotations

import logging

import tidewell.distributor as distributor
import tidewell.protocol as protocol
import tidewell.ring as ring
from tests.unit.distributor.helpers import Harness, request


def test_exported_members():
    assert {"Distributor", "push_routes", "Limits", "Overrides", "DistributorConfig"} <= set(
        distributor.__all__
    )
    assert {"decode_record_value", "encode_write_request", "ProtocolError"} <= set(
        protocol.__all__
    )
    assert {
        "KV", "InMemoryKV", "PartitionRing", "PartitionRingWatcher",
        "PartitionInstanceLifecycler", "PartitionState", "PartitionRingConfig",
    } <= set(ring.__all__)
    for mod in (distributor, protocol, ring):
        for name in mod.__all__:
            assert hasattr(mod, name), f"{mod.__name__}.{name}"


def test_produce_acknowledgements_are_logged_at_debug(caplog):
    h = Harness()
    with caplog.at_level(logging.DEBUG, logger="tidewell.distributor"):
        h.push("tenant-x", request({"__name__": "up"}))
    (rec,) = h.writer.records
    assert (
        f"produce acknowledged tenant=tenant-x partition={rec.partition} offset=0 records=1"
        in caplog.text
    )
