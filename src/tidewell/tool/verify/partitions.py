"""Check 2: every ACTIVE partition has an ingester per zone consuming it.

The partition ring (in the KV store) says which partitions take writes and who
owns them; the ingester ring says each owner's zone, address and last
heartbeat. Whether an owner really consumes is asked of the broker, not of the
ingester: its consumer group's committed offset (Kafka OffsetFetch), read twice
``window`` apart, against the partition's end offset. Committed offsets follow
Kafka's convention (the next offset to read), so the lag is ``end - committed``.
An owner that has not committed, by the second look, the records that were
already in the partition at the first look is stuck.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

import httpx

from tidewell.config import Config
from tidewell.ingest.log import PartitionReader
from tidewell.model.errors import TidewellError
from tidewell.ring.instance_ring import INGESTER_RING_KEY, InstanceDesc, InstanceRingDesc
from tidewell.ring.kv_factory import close_kv, new_kv
from tidewell.ring.model import OwnerState, PartitionRingDesc, PartitionState
from tidewell.ring.partition_ring import PARTITION_RING_KEY
from tidewell.tool.verify.deployment import DeploymentError
from tidewell.tool.verify.report import CheckResult, Status
from tidewell.tool.verify.topic import check_topic

__all__ = ["OffsetLook", "check_partitions", "judge_owner", "read_rings"]

CHECK = "consume"
_ZONE_IN_ID = re.compile(r"(zone-[a-z0-9]+)")


@dataclass(frozen=True)
class OffsetLook:
    """The broker's view of one consumer group on one partition at one moment."""

    committed: int | None
    end: int


async def read_rings(config: Config) -> tuple[PartitionRingDesc | None, InstanceRingDesc | None]:
    """The partition ring and the ingester ring, read once from their KV stores."""
    ing = config.ingester
    if "inmemory" in (ing.partition_ring.kvstore.store, ing.ring.kvstore.store):
        raise DeploymentError("the rings are in memory (-ingester.partition-ring.store=inmemory): "
                       "only the process holding them can see them; point verify at a "
                       "deployment whose rings are in etcd")
    pkv = new_kv(ing.partition_ring.kvstore, name="verify-partition-ring")
    ikv = new_kv(ing.ring.kvstore, name="verify-ingester-ring")
    try:
        return await pkv.get(PARTITION_RING_KEY), await ikv.get(INGESTER_RING_KEY)
    finally:
        await close_kv(pkv)
        await close_kv(ikv)


def zone_of(owner: str, instances: dict[str, InstanceDesc]) -> str:
    inst = instances.get(owner)
    if inst is not None and inst.zone:
        return inst.zone
    m = _ZONE_IN_ID.search(owner)
    return m.group(1) if m else ""


def judge_owner(subject: str, group: str, first: OffsetLook, second: OffsetLook,
                window_s: float, health: list[str], max_lag: int) -> CheckResult:
    """The verdict for one owner from two looks at its group's offset ``window_s`` apart."""
    notes = f"; {'; '.join(health)}" if health else ""
    c0, c1 = first.committed, second.committed
    if c1 is None:
        if second.end == 0:
            return CheckResult(CHECK, subject, Status.WARN,
                               f"partition is empty and group {group!r} has committed nothing "
                               f"yet{notes}")
        return CheckResult(CHECK, subject, Status.FAIL,
                           f"group {group!r} has no committed offset on the broker while the "
                           f"partition holds {second.end} records{notes}")
    lag = max(0, second.end - c1)
    stuck_behind = first.end - c1
    state = f"committed {c1}, end {second.end}, lag {lag} records (group {group!r})"
    if stuck_behind > 0 and c1 == c0:
        return CheckResult(CHECK, subject, Status.FAIL,
                           f"not consuming: committed offset {c1} unchanged for {window_s:g}s "
                           f"while {stuck_behind} older records wait; {state}{notes}")
    if lag > max_lag:
        return CheckResult(CHECK, subject, Status.FAIL if c1 == c0 else Status.WARN,
                           f"lag above {max_lag} records; committed advanced by "
                           f"{c1 - (c0 or 0)} in {window_s:g}s; {state}{notes}")
    if stuck_behind > 0:
        return CheckResult(CHECK, subject, Status.WARN,
                           f"catching up: committed advanced by {c1 - (c0 or 0)} in "
                           f"{window_s:g}s but not yet to where the partition ended then; "
                           f"{state}{notes}")
    if health:
        return CheckResult(CHECK, subject, Status.WARN, f"{state}{notes}")
    return CheckResult(CHECK, subject, Status.PASS, state)


async def _health(client: httpx.AsyncClient, inst: InstanceDesc | None, timeout_s: float,
                  now: float) -> list[str]:
    """What the ingester ring and the ingester's ``/ready`` say, when not all is well."""
    if inst is None:
        return ["not in the ingester ring"]
    out = []
    age = now - inst.timestamp
    if timeout_s > 0 and age > timeout_s:
        out.append(f"ring heartbeat {age:.0f}s old")
    try:
        r = await client.get(f"http://{inst.addr}/ready")
        if r.status_code != 200:
            out.append(f"/ready answers {r.status_code}")
    except httpx.HTTPError as exc:
        out.append(f"/ready at {inst.addr} unreachable ({type(exc).__name__})")
    return out


async def _look(reader: PartitionReader, group: str, partition: int) -> OffsetLook:
    committed = await reader.committed(group, partition)
    return OffsetLook(committed, await reader.end_offset(partition))


async def check_partitions(config: Config, reader: PartitionReader, window_s: float,
                           max_lag: int) -> list[CheckResult]:
    """One line per (ACTIVE partition, zone): its owner's consumption, or why it has none."""
    try:
        pring, iring = await read_rings(config)
    except (TidewellError, OSError) as exc:
        return [CheckResult(CHECK, "partition ring", Status.FAIL, f"cannot read the rings: {exc}")]
    if pring is None or not pring.partitions:
        return [CheckResult(CHECK, "partition ring", Status.FAIL,
                            "the partition ring is empty: no ingester has registered")]
    instances = iring.instances if iring else {}
    active = sorted(p for p, d in pring.partitions.items() if d.state is PartitionState.ACTIVE)
    if not active:
        states = ", ".join(f"{p}={d.state.value}" for p, d in sorted(pring.partitions.items()))
        return [CheckResult(CHECK, "partition ring", Status.FAIL,
                            f"no ACTIVE partition, writes have nowhere to go ({states})")]
    owners = {oid: pid for oid, (pid, o) in pring.owners.items() if o.state is OwnerState.ACTIVE}
    zones = sorted({zone_of(o, instances) for o in owners}
                   | {i.zone for i in instances.values()})
    kafka = config.ingest_storage.kafka
    jobs: list[tuple[str, str, int, InstanceDesc | None]] = []
    results: list[CheckResult] = []
    for p in active:
        for zone in zones:
            mine = sorted(o for o, pid in owners.items() if pid == p and zone_of(o, instances)
                          == zone)
            where = f"partition {p}" + (f" {zone}" if zone else "")
            if not mine:
                results.append(CheckResult(CHECK, where, Status.FAIL,
                                           f"no ingester{' of ' + zone if zone else ''} owns "
                                           "this ACTIVE partition: its writes are not consumed"))
            for owner in mine:
                jobs.append((f"{where} {owner}", kafka.consumer_group or owner, p,
                             instances.get(owner)))
    heartbeat_timeout = config.ingester.ring.heartbeat_timeout

    async def one(subject: str, group: str, p: int, inst: InstanceDesc | None,
                  client: httpx.AsyncClient) -> CheckResult:
        try:
            first = await _look(reader, group, p)
            await asyncio.sleep(window_s)
            second = await _look(reader, group, p)
        except (TidewellError, OSError) as exc:
            return CheckResult(CHECK, subject, Status.FAIL,
                               f"cannot read offsets from the broker: {exc}")
        health = await _health(client, inst, heartbeat_timeout, time.time())
        return judge_owner(subject, group, first, second, window_s, health, max_lag)

    per_zone = {z: sum(1 for o in owners if zone_of(o, instances) == z) for z in zones}
    async with httpx.AsyncClient(timeout=3.0) as client:
        topic, *owned = await asyncio.gather(check_topic(kafka, active, per_zone),
                                             *(one(*job, client) for job in jobs))
    results += owned
    order = {r.subject: i for i, r in enumerate(results)}
    return [topic, *sorted(results, key=lambda r: (int(r.subject.split()[1]),
                                                   order[r.subject]))]
