"""The KV contract every ring backend must meet, as a test class to subclass.

A backend's test module subclasses ``KVContractTests`` and implements
``open_kv`` (an async context manager yielding a fresh, empty KV). Tests run
their bodies with ``asyncio.run`` so they need no async pytest plugin.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from tidewell.ring.instance_ring import InstanceDesc, InstanceRingDesc, InstanceState
from tidewell.ring.kv import KV
from tidewell.ring.model import PartitionRingDesc, PartitionState

__all__ = ["KVContractTests", "eventually"]


async def eventually(cond: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Wait until ``cond()`` holds, polling; fail with ``what`` after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await asyncio.sleep(0.01)


class KVContractTests:
    """get / cas / cas conflicts / watch / delete, for any ``KV``."""

    timeout = 30.0

    def open_kv(self) -> contextlib.AbstractAsyncContextManager[KV]:
        raise NotImplementedError

    def run(self, body: Callable[[KV], Awaitable[None]]) -> None:
        async def main() -> None:
            async with self.open_kv() as kv:
                await body(kv)

        asyncio.run(asyncio.wait_for(main(), self.timeout))

    def test_get_missing_is_none(self) -> None:
        async def body(kv: KV) -> None:
            assert await kv.get("missing") is None

        self.run(body)

    def test_cas_creates_updates_and_keeps(self) -> None:
        async def body(kv: KV) -> None:
            seen: list[Any] = []

            def create(old: Any) -> tuple[Any, bool]:
                seen.append(old)
                return {"n": 1, "names": ["a"]}, True

            await kv.cas("k", create)
            assert seen == [None]
            assert await kv.get("k") == {"n": 1, "names": ["a"]}
            await kv.cas("k", lambda old: ({**old, "n": old["n"] + 1}, True))
            assert await kv.get("k") == {"n": 2, "names": ["a"]}
            await kv.cas("k", lambda old: (None, False))  # None = no change
            assert await kv.get("k") == {"n": 2, "names": ["a"]}

        self.run(body)

    def test_values_are_private_copies(self) -> None:
        async def body(kv: KV) -> None:
            await kv.cas("k", lambda old: ({"a": [1]}, True))
            v = await kv.get("k")
            v["a"].append(2)
            assert await kv.get("k") == {"a": [1]}

        self.run(body)

    def test_concurrent_cas_loses_no_update(self) -> None:
        async def body(kv: KV) -> None:
            calls = [0]

            def incr(old: Any) -> tuple[Any, bool]:
                calls[0] += 1
                return (old or 0) + 1, True

            await asyncio.gather(*(kv.cas("counter", incr) for _ in range(8)))
            assert await kv.get("counter") == 8
            assert calls[0] >= 8

        self.run(body)

    def test_cas_callback_error_propagates_and_changes_nothing(self) -> None:
        async def body(kv: KV) -> None:
            await kv.cas("k", lambda old: (1, True))

            def fail(old: Any) -> tuple[Any, bool]:
                raise ValueError("nope")

            try:
                await kv.cas("k", fail)
            except ValueError:
                pass
            else:
                raise AssertionError("callback error was swallowed")
            assert await kv.get("k") == 1

        self.run(body)

    def test_watch_sees_latest_value_and_delete(self) -> None:
        async def body(kv: KV) -> None:
            seen: list[Any] = []
            other: list[Any] = []
            cancel = kv.watch_key("w", seen.append)
            cancel_other = kv.watch_key("other", other.append)
            for i in range(1, 4):
                await kv.cas("w", lambda old, i=i: ({"v": i}, True))
            await eventually(lambda: bool(seen) and seen[-1] == {"v": 3}, what="watch value")
            # Network backends may coalesce changes, never reorder them.
            values = [s["v"] for s in seen if s is not None]
            assert values == sorted(values)
            await kv.delete("w")
            await eventually(lambda: seen[-1] is None, what="watch delete")
            assert await kv.get("w") is None
            assert all(o is None for o in other)  # only the watched key is reported
            cancel()
            cancel_other()
            n = len(seen)
            await kv.cas("w", lambda old: ({"v": 9}, True))
            await asyncio.sleep(0.2)
            assert len(seen) == n

        self.run(body)

    def test_ring_descriptors_round_trip(self) -> None:
        async def body(kv: KV) -> None:
            prd = PartitionRingDesc()
            prd.add_partition(3, PartitionState.ACTIVE, 1000.5)
            prd.add_or_update_owner("ingester-zone-a-3", 3, 1001.0)
            await kv.cas("ingester-partitions", lambda old: (prd, True))
            got = await kv.get("ingester-partitions")
            assert isinstance(got, PartitionRingDesc)
            assert got.partitions == prd.partitions
            assert got.owners == prd.owners
            ird = InstanceRingDesc(
                {"sg-1": InstanceDesc("sg-1", "127.0.0.1:9095", "zone-a", InstanceState.ACTIVE,
                                      [5, 10, 99], 1234.0, 1200.0)}
            )
            await kv.cas("store-gateway", lambda old: (ird, True))
            assert await kv.get("store-gateway") == ird

        self.run(body)

