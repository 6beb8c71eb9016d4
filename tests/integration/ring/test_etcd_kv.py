"""The KV contract against a real etcd, plus what only a network KV can get wrong."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY

from tidewell.ring import KV, KVConfig, close_kv, new_kv
from tidewell.ring.config import EtcdConfig
from tidewell.ring.etcd import EtcdKV, EtcdUnavailableError
from tidewell.ring.testing import KVContractTests

pytestmark = pytest.mark.timeout(60)


def etcd_kv_config(endpoint: str, **etcd: object) -> KVConfig:
    cfg = KVConfig(store="etcd", prefix=f"test-{uuid.uuid4().hex[:10]}/")
    cfg.etcd = EtcdConfig(endpoints=[endpoint], dial_timeout=2.0, **etcd)  # type: ignore[arg-type]
    return cfg


class TestEtcdKV(KVContractTests):
    @pytest.fixture(autouse=True)
    def _server(self, etcd) -> None:  # type: ignore[no-untyped-def]
        self.endpoint = etcd.endpoint

    @contextlib.asynccontextmanager
    async def open_kv(self) -> AsyncIterator[KV]:
        kv = new_kv(etcd_kv_config(self.endpoint), name="test")
        try:
            yield kv
        finally:
            await close_kv(kv)


def test_concurrent_cas_really_conflicts_and_retries(etcd):
    async def body() -> None:
        a = new_kv(etcd_kv_config(etcd.endpoint))
        b = EtcdKV(EtcdConfig(endpoints=[etcd.endpoint]))
        key = a.prefix + "counter"  # type: ignore[attr-defined]
        calls = [0]

        def incr(old):  # type: ignore[no-untyped-def]
            calls[0] += 1
            return (old or 0) + 1, True

        await asyncio.gather(*(kv.cas("counter", incr) for kv in [a] * 4),
                             *(b.cas(key, incr) for _ in range(4)))
        assert await a.get("counter") == 8
        assert calls[0] > 8  # some transactions lost the race and were retried
        await close_kv(a)
        await b.close()

    asyncio.run(asyncio.wait_for(body(), 30))


def test_two_clients_see_each_others_writes_through_watch(etcd):
    async def body() -> None:
        cfg = etcd_kv_config(etcd.endpoint)
        writer, reader = new_kv(cfg), new_kv(cfg)
        seen: list[object] = []
        cancel = reader.watch_key("ring", seen.append)
        await writer.cas("ring", lambda old: ({"gen": 1}, True))
        deadline = asyncio.get_running_loop().time() + 10
        while {"gen": 1} not in seen:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        assert seen[0] is None  # the first read, before the write
        cancel()
        await close_kv(writer)
        await close_kv(reader)

    asyncio.run(asyncio.wait_for(body(), 30))


def test_unreachable_etcd_fails_fast_with_a_clear_error():
    async def body() -> None:
        kv = EtcdKV(EtcdConfig(endpoints=["127.0.0.1:1"], dial_timeout=0.5, max_retries=2))
        with pytest.raises(EtcdUnavailableError, match="2 attempts"):
            await kv.get("x")
        await kv.close()

    asyncio.run(asyncio.wait_for(body(), 20))


def test_idle_watch_is_recreated_without_duplicate_deliveries(etcd):
    async def body() -> None:
        kv = EtcdKV(EtcdConfig(endpoints=[etcd.endpoint]), watch_idle_timeout=0.2,
                    kv_name="idle-test")
        key = f"idle-{uuid.uuid4().hex[:8]}"
        await kv.cas(key, lambda old: ({"v": 1}, True))
        seen: list[object] = []
        cancel = kv.watch_key(key, seen.append)
        await asyncio.sleep(1.0)  # about five idle re-creations
        reads = REGISTRY.get_sample_value(
            "cortex_kv_request_duration_seconds_count",
            {"operation": "GET", "status_code": "200", "kv_name": "idle-test"},
        )
        assert reads is not None and reads >= 4  # the watch was re-created several times
        assert seen == [{"v": 1}]  # re-reads deliver only real changes
        await kv.cas(key, lambda old: ({"v": 2}, True))
        deadline = asyncio.get_running_loop().time() + 10
        while seen[-1] != {"v": 2}:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        assert seen == [{"v": 1}, {"v": 2}]
        cancel()
        await kv.close()

    asyncio.run(asyncio.wait_for(body(), 30))


def test_watch_loop_is_supervised(etcd):
    """Bytes that do not decode are skipped (the watch goes on); a watcher that raises
    (a bug) fails the KV's module: traceback logged, /ready 503, process exit."""
    import base64

    import httpx

    from tidewell.ring.kv_factory import kv_supervisors
    from tidewell.util.services import FunctionService, ServiceManager

    async def body() -> None:
        kv = new_kv(etcd_kv_config(etcd.endpoint), name="test")
        manager = ServiceManager([("test-kv", FunctionService(
            lambda: None, lambda: close_kv(kv), supervisors=kv_supervisors(kv)))])
        await manager.start_all()
        seen: list[object] = []

        def watcher(value: object) -> None:
            if value == {"gen": 2}:
                raise KeyError("ring bug")
            seen.append(value)

        kv.watch_key("ring", watcher)
        full_key = (kv.prefix + "ring").encode()  # type: ignore[attr-defined]
        async with httpx.AsyncClient(trust_env=False) as http:
            put = {"key": base64.b64encode(full_key).decode(),
                   "value": base64.b64encode(b"\x00not json").decode()}
            r = await http.post(f"http://{etcd.endpoint}/v3/kv/put", json=put)
            assert r.status_code == 200
        await kv.delete("ring")  # CAS would refuse to read over the bad bytes
        await kv.cas("ring", lambda old: ({"gen": 1}, True))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while {"gen": 1} not in seen:
            assert loop.time() < deadline
            await asyncio.sleep(0.01)
        assert manager.ready() == (True, "")  # the undecodable value was skipped
        await kv.cas("ring", lambda old: ({"gen": 2}, True))
        reason = await asyncio.wait_for(manager.failed(), 10)
        assert reason.startswith("module test-kv failed: watch-"), reason
        assert "WatchCallbackError" in reason and "ring bug" in reason
        ok, why = manager.ready()
        assert not ok and "module test-kv is Failed" in why
        await manager.stop_all(timeout_s=5)

    asyncio.run(asyncio.wait_for(body(), 30))
