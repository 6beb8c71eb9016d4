"""Failure injection for each supervised ingester loop.

What a loop expects (the log, the bucket or the ring's KV briefly away) is
retried and the module stays Running; anything else fails the module: the
ServiceManager marks it Failed, ``/ready`` turns 503 (tested in
``tests/unit/util/test_services.py``) and the process exits non-zero.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from tidewell.ingester import Ingester
from tidewell.ingester.shipper import Shipper
from tidewell.model import Labels
from tidewell.objstore import BucketError, FilesystemBucket
from tidewell.ring.config import PartitionRingConfig
from tidewell.ring.kv import InMemoryKV
from tidewell.ring.lifecycler import PartitionInstanceLifecycler
from tidewell.util.services import ServiceManager

from .conftest import new_ingester, new_log, record

pytestmark = [pytest.mark.timeout(30), pytest.mark.anyio]
UP = Labels.from_dict({"__name__": "up"})


async def running(tmp_path: Path) -> tuple[Ingester, ServiceManager]:
    log = new_log(str(tmp_path / "log"))
    ing = new_ingester(log, str(tmp_path / "ing"), tsdb_settings={"ship_interval": 0.02})
    ing.shipper = Shipper(FilesystemBucket(tmp_path / "bucket"), ing.layout.tenants_dir)
    ring_cfg = PartitionRingConfig(min_partition_owners_duration=0, lifecycler_poll_period=0.02)
    ing.lifecycler = PartitionInstanceLifecycler(InMemoryKV(), ring_cfg)
    ing.config.partition_ring = ring_cfg
    manager = ServiceManager([("ingester", ing)])
    await manager.start_all()
    assert sorted(ing.supervisor.running) == ["consumer", "offset-commit", "shipper"]
    assert ing.lifecycler.supervisor.running == ["reconcile"]
    return ing, manager


def fail_with(exc: Exception) -> Callable[..., Awaitable[object]]:
    """A stand-in for a step that fails with ``exc``."""

    async def failing(*_: object, **__: object) -> object:
        raise exc

    return failing


async def still_running(ing: Ingester, manager: ServiceManager, loop: str) -> None:
    await asyncio.sleep(0.2)
    assert manager.ready() == (True, "")
    assert loop in ing.supervisor.running


async def fails(manager: ServiceManager, loop: str, err: str) -> None:
    reason = await asyncio.wait_for(manager.failed(), 5)
    assert reason.startswith(f"module ingester failed: {loop}: {err}"), reason
    ok, why = manager.ready()
    assert not ok and "module ingester is Failed" in why


async def test_consumer_failure_fails_the_module(tmp_path: Path) -> None:
    ing, manager = await running(tmp_path)

    # What the consumer loop runs between fetches (cutting, snapshots) breaks unexpectedly.
    broken = fail_with(RuntimeError("snapshot bookkeeping broke"))
    ing.maintain = broken  # type: ignore[method-assign]
    await ing.reader.produce([record(3, "t1", [(UP, 1_000, 1.0)])])  # type: ignore[attr-defined]
    await fails(manager, "consumer", "RuntimeError: snapshot bookkeeping broke")
    await manager.stop_all(timeout_s=5)


async def test_consumer_retries_log_errors(tmp_path: Path) -> None:
    ing, manager = await running(tmp_path)
    real_fetch = ing.reader.fetch
    calls = 0

    async def flaky_fetch(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError("broker away")
        return await real_fetch(*args, **kwargs)  # type: ignore[arg-type]

    ing.reader.fetch = flaky_fetch  # type: ignore[method-assign]
    (last,) = await ing.reader.produce(  # type: ignore[attr-defined]
        [record(3, "t1", [(UP, 1_000, 1.0)])])
    await ing.wait_for_offset(last, 10)
    await still_running(ing, manager, "consumer")
    await manager.stop_all(timeout_s=5)


async def test_shipper_failure_fails_the_module_but_bucket_errors_are_retried(
    tmp_path: Path,
) -> None:
    ing, manager = await running(tmp_path)
    calls = 0
    bucket_away = fail_with(BucketError("bucket away"))

    async def ship() -> object:
        nonlocal calls
        calls += 1
        return await bucket_away()

    ing.ship = ship  # type: ignore[method-assign]
    await still_running(ing, manager, "shipper")
    assert calls >= 3
    ing.ship = fail_with(TypeError("unexpected"))  # type: ignore[method-assign]
    await fails(manager, "shipper", "TypeError: unexpected")
    assert sorted(ing.supervisor.running) == ["consumer", "offset-commit"]
    await manager.stop_all(timeout_s=5)


async def test_offset_commit_failures_are_retried(tmp_path: Path) -> None:
    ing, manager = await running(tmp_path)
    failures = REGISTRY.get_sample_value(
        "cortex_ingest_storage_reader_offset_commit_failures_total", {"partition": "3"}) or 0
    real_commit = ing.reader.commit
    ing.reader.commit = fail_with(OSError("broker away"))  # type: ignore[method-assign]
    (last,) = await ing.reader.produce(  # type: ignore[attr-defined]
        [record(3, "t1", [(UP, 1_000, 1.0)])])
    await ing.wait_for_offset(last, 10)
    await still_running(ing, manager, "offset-commit")
    assert REGISTRY.get_sample_value(
        "cortex_ingest_storage_reader_offset_commit_failures_total", {"partition": "3"}
    ) > failures
    ing.reader.commit = real_commit  # type: ignore[method-assign]
    for _ in range(100):
        if await ing.reader.committed(ing.group, 3) == last + 1:
            break
        await asyncio.sleep(0.02)
    assert await ing.reader.committed(ing.group, 3) == last + 1
    await manager.stop_all(timeout_s=5)


async def test_partition_ring_errors_are_retried_and_its_failure_fails_the_ingester(
    tmp_path: Path,
) -> None:
    ing, manager = await running(tmp_path)
    lc = ing.lifecycler
    assert lc is not None
    lc.reconcile = fail_with(ConnectionError("etcd away"))  # type: ignore[method-assign]
    await asyncio.sleep(0.2)
    assert manager.ready() == (True, "") and lc.supervisor.running == ["reconcile"]
    # The lifecycler's loops count as the ingester's: one failing fails the module.
    lc.supervisor.spawn("heartbeat-probe", fail_with(TypeError("unexpected")))
    await fails(manager, "heartbeat-probe", "TypeError: unexpected")
    await manager.stop_all(timeout_s=5)
    assert lc.supervisor.running == []
