"""How ring descriptors are stored in a shared KV: JSON, tagged with a ``kind``.

JSON keeps the stored value readable with ``etcdctl get`` and rings are
small. Partition tokens are not stored: they are a pure function of the
partition ID (``partition_tokens``), so a 1,000-partition ring stays well under
etcd's 1.5 MiB request limit. Instance tokens are random and are stored.
Any other JSON-serialisable value (used by tests and small flags) is stored
as ``{"kind": "json", "value": ...}``.
"""

from __future__ import annotations

import json
from typing import Any

from tidewell.ring.model import (
    OwnerDesc,
    OwnerState,
    PartitionDesc,
    PartitionRingDesc,
    PartitionState,
)
from tidewell.ring.tokens import partition_tokens

__all__ = ["decode_value", "encode_value"]


def encode_value(value: Any) -> bytes:
    # Imported here: instance_ring imports the KV layer, which imports this module.
    from tidewell.ring.instance_ring import InstanceRingDesc

    if isinstance(value, PartitionRingDesc):
        doc: dict[str, Any] = {
            "kind": "partition_ring",
            "partitions": [
                {
                    "id": p.id,
                    "state": p.state.value,
                    "state_timestamp": p.state_timestamp,
                    "state_change_locked": p.state_change_locked,
                }
                for p in sorted(value.partitions.values(), key=lambda d: d.id)
            ],
            "owners": [
                {
                    "id": oid,
                    "partition": pid,
                    "state": o.state.value,
                    "updated_timestamp": o.updated_timestamp,
                }
                for oid, (pid, o) in sorted(value.owners.items())
            ],
        }
    elif isinstance(value, InstanceRingDesc):
        doc = {"kind": "instance_ring", **value.to_json()}
    else:
        doc = {"kind": "json", "value": value}
    return json.dumps(doc, separators=(",", ":")).encode()


def decode_value(data: bytes) -> Any:
    from tidewell.ring.instance_ring import InstanceRingDesc

    doc = json.loads(data)
    kind = doc.get("kind")
    if kind == "partition_ring":
        desc = PartitionRingDesc()
        for p in doc["partitions"]:
            pid = int(p["id"])
            desc.partitions[pid] = PartitionDesc(
                pid,
                partition_tokens(pid),
                PartitionState(p["state"]),
                float(p["state_timestamp"]),
                bool(p.get("state_change_locked", False)),
            )
        for o in doc["owners"]:
            desc.owners[o["id"]] = (
                int(o["partition"]),
                OwnerDesc(o["id"], OwnerState(o["state"]), float(o["updated_timestamp"])),
            )
        return desc
    if kind == "instance_ring":
        return InstanceRingDesc.from_json(doc)
    if kind == "json":
        return doc["value"]
    raise ValueError(f"unknown ring value kind {kind!r}")
