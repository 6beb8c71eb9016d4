"""Mimir's object-store metrics, counted by the decorator on real buckets."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from tidewell.objstore import (
    AsyncBucket,
    BucketConfig,
    BucketError,
    FilesystemBucket,
    InstrumentedBucket,
    ObjectNotFoundError,
    new_bucket,
)


def _value(name: str, component: str, operation: str | None = None) -> float:
    labels = {"component": component}
    if operation:
        labels["operation"] = operation
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_operations_failures_and_durations(tmp_path: Path) -> None:
    c = "unit-instrumented"
    bucket = InstrumentedBucket(FilesystemBucket(tmp_path), c)
    # Every operation is exposed from the start, at zero.
    assert REGISTRY.get_sample_value(
        "thanos_objstore_bucket_operations_total", {"component": c, "operation": "attributes"}
    ) == 0.0
    bucket.put("a", b"12345")
    bucket.get("a")
    bucket.get_range("a", 1, 2)
    bucket.get_ranges("a", [(0, 1), (2, 2), (4, 9)])
    bucket.list_dir("")
    list(bucket.iter_prefix(""))
    bucket.exists("a")
    with pytest.raises(ObjectNotFoundError):
        bucket.get("missing")
    with pytest.raises(BucketError):
        bucket.put("a/below-a-file", b"x")

    ops = "thanos_objstore_bucket_operations_total"
    fails = "thanos_objstore_bucket_operation_failures_total"
    assert _value(ops, c, "upload") == 2
    assert _value(ops, c, "get") == 2
    assert _value(ops, c, "get_range") == 4
    assert _value(ops, c, "iter") == 2
    assert _value(ops, c, "exists") == 1
    assert _value(fails, c, "get") == 0  # not found is an answer, not a failure
    assert _value(fails, c, "upload") == 1
    assert _value("thanos_objstore_bucket_operation_duration_seconds_count", c, "get") == 1
    assert _value("thanos_objstore_bucket_operation_fetched_bytes_total", c, "get_range") == 6
    assert _value("thanos_objstore_bucket_last_successful_upload_time", c) > 0


def test_async_bucket_overlaps_calls(tmp_path: Path) -> None:
    bucket = AsyncBucket(new_bucket(BucketConfig(backend="memory"), tmp_path))

    async def main() -> list[bytes]:
        await asyncio.gather(*(bucket.put(f"t/{i}", str(i).encode()) for i in range(20)))
        assert len(await bucket.iter_prefix("t")) == 20
        assert (await bucket.list_dir("t")).objects[0].key == "t/0"
        assert await bucket.exists("t/3")
        assert await bucket.get_range("t/12", 1, 5) == b"2"
        return list(await asyncio.gather(*(bucket.get(f"t/{i}") for i in range(20))))

    assert asyncio.run(main()) == [str(i).encode() for i in range(20)]
