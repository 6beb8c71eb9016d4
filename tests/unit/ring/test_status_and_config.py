"""Ring status pages (HTML and JSON) and the rings' config flags."""

from __future__ import annotations

import asyncio

import httpx
from starlette.applications import Starlette

from tidewell.config import duplicate_flags, leaves, load
from tidewell.ring import (
    STORE_GATEWAY_RING_KEY,
    InMemoryKV,
    InstanceDesc,
    InstanceRing,
    InstanceRingDesc,
    InstanceRingWatcher,
    InstanceState,
    KVConfig,
    PartitionRing,
    PartitionRingConfig,
    PartitionRingDesc,
    PartitionState,
    StoreGatewayShardingRingConfig,
    new_kv,
    ring_status_routes,
)
from tidewell.ring.config import InvalidKVConfigError
from tidewell.ring.etcd import EtcdKV
from tidewell.ring.kv import PrefixedKV
from tidewell.util.config_tree import iter_leaves

NOW = 1_700_000_100.0


def instance_ring() -> InstanceRing:
    desc = InstanceRingDesc(
        {
            "sg-a": InstanceDesc("sg-a", "10.0.0.1:9095", "zone-a", InstanceState.ACTIVE,
                                 [0, 2**31], NOW - 5, NOW - 500),
            "sg-b": InstanceDesc("sg-b", "10.0.0.2:9095", "zone-b", InstanceState.ACTIVE,
                                 [2**30], NOW - 120, NOW - 500),
        }
    )
    return InstanceRing(desc, StoreGatewayShardingRingConfig(), name="store-gateway",
                        clock=lambda: NOW)


def partition_ring() -> PartitionRing:
    desc = PartitionRingDesc()
    desc.add_partition(0, PartitionState.ACTIVE, NOW - 60)
    desc.add_partition(1, PartitionState.INACTIVE, NOW - 30)
    desc.add_or_update_owner("ingester-zone-a-0", 0, NOW - 10)
    desc.add_or_update_owner("ingester-zone-b-0", 0, NOW - 10)
    return PartitionRing(desc)


class _Client:
    """Synchronous GETs against the routes through httpx's ASGI transport."""

    def __init__(self) -> None:
        routes = ring_status_routes(
            ingester_ring=instance_ring(),
            store_gateway_ring=instance_ring(),
            partition_ring=partition_ring(),
        )
        self.app = Starlette(routes=routes)

    def get(self, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return asyncio.run(request(self.app, "GET", url, headers=headers))


async def request(app: Starlette, method: str, url: str, **kw: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tw") as c:
        resp = await c.request(method, url, **kw)  # type: ignore[arg-type]
        await resp.aread()
        return resp


def client() -> _Client:
    return _Client()


def test_instance_ring_page_json():
    c = client()
    for req in (
        c.get("/store-gateway/ring", headers={"Accept": "application/json"}),
        c.get("/store-gateway/ring?format=json"),
    ):
        assert req.status_code == 200
        doc = req.json()
        shards = {s["id"]: s for s in doc["shards"]}
        assert shards["sg-a"]["state"] == "ACTIVE"
        assert shards["sg-b"]["state"] == "UNHEALTHY"  # 120 s > 60 s heartbeat timeout
        assert shards["sg-a"]["heartbeat_age_seconds"] == 5.0
        assert shards["sg-a"]["num_tokens"] == 2 and shards["sg-b"]["num_tokens"] == 1
        assert shards["sg-a"]["zone"] == "zone-a"
        assert shards["sg-a"]["address"] == "10.0.0.1:9095"
        # sg-a's tokens (0, 2^31) own (2^30, 2^31] and (2^31, 2^32]: 75 % of the space.
        assert shards["sg-a"]["ownership"] == 75.0
        assert shards["sg-b"]["ownership"] == 25.0


def test_instance_ring_page_html():
    r = client().get("/ingester/ring", headers={"Accept": "text/html"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "<table>" in r.text and "sg-b" in r.text and "UNHEALTHY" in r.text
    assert "Ingester ring status" in r.text


def test_partition_ring_page():
    c = client()
    doc = c.get("/ingester/partition-ring?format=json").json()
    parts = {p["id"]: p for p in doc["partitions"]}
    assert parts[0]["state"] == "ACTIVE" and parts[1]["state"] == "INACTIVE"
    assert parts[0]["owner_ids"] == ["ingester-zone-a-0", "ingester-zone-b-0"]
    assert parts[0]["num_tokens"] == 512
    assert parts[1]["owner_ids"] == []
    html = c.get("/ingester/partition-ring").text
    assert "INACTIVE" in html and "ingester-zone-b-0" in html and "<td>512</td>" in html


def test_only_known_rings_are_mounted():
    routes = ring_status_routes(partition_ring=partition_ring())
    assert [r.path for r in routes] == ["/ingester/partition-ring"]


def test_kv_flags_follow_mimir_names():
    flags = {lf.flag: lf for lf in leaves()}
    assert flags["ingester.partition-ring.store"].default == "inmemory"
    assert flags["ingester.partition-ring.store"].choices == ("inmemory", "etcd")
    assert flags["ingester.partition-ring.etcd.endpoints"].path == (
        "ingester", "partition_ring", "kvstore", "etcd", "endpoints")
    assert flags["ingester.partition-ring.etcd.dial-timeout"].default == 10.0
    assert flags["ingester.partition-ring.etcd.max-retries"].default == 10
    assert flags["ingester.partition-ring.etcd.password"].secret
    assert flags["ingester.partition-ring.prefix"].default == "collectors/"
    assert not duplicate_flags()
    sg = {lf.flag: lf.default for lf in iter_leaves(StoreGatewayShardingRingConfig)}
    assert sg["store-gateway.sharding-ring.store"] == "inmemory"
    assert sg["store-gateway.sharding-ring.heartbeat-period"] == 15.0
    assert sg["store-gateway.sharding-ring.heartbeat-timeout"] == 60.0
    assert sg["store-gateway.sharding-ring.replication-factor"] == 3
    assert sg["store-gateway.sharding-ring.etcd.endpoints"] == []
    assert PartitionRingConfig().kvstore_store == "inmemory"


def test_joined_rings_carry_their_instance_flags():
    flags = {lf.flag: lf for lf in leaves()}
    for prefix, path in (("compactor.ring", ("compactor", "sharding_ring")),
                         ("ruler.ring", ("ruler", "ring"))):
        assert flags[f"{prefix}.instance-id"].path == (*path, "instance_id")
        assert flags[f"{prefix}.instance-availability-zone"].default == ""
    cfg = load(["-compactor.ring.instance-id=c-1", "-ruler.ring.instance-availability-zone=z",
                "-ruler.ring.num-tokens=7"]).config
    assert cfg.compactor.sharding_ring.instance_id == "c-1"
    assert cfg.compactor.sharding_ring.num_tokens == 512
    assert (cfg.ruler.ring.instance_availability_zone, cfg.ruler.ring.num_tokens) == ("z", 7)


def test_new_kv_picks_the_backend():
    assert isinstance(new_kv(KVConfig()), InMemoryKV)
    cfg = KVConfig(store="etcd", prefix="tw/")
    cfg.etcd.endpoints = ["127.0.0.1:1"]
    kv = new_kv(cfg)
    assert isinstance(kv, PrefixedKV) and kv.prefix == "tw/"
    assert isinstance(kv.kv, EtcdKV)
    try:
        new_kv(KVConfig(store="consul"))
    except ValueError as exc:
        assert "consul" in str(exc)
    else:
        raise AssertionError("unknown store accepted")


def test_kv_config_loads_from_yaml_and_flags(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "ingester:\n  partition_ring:\n    kvstore:\n      prefix: tw/\n"
        "      etcd:\n        dial_timeout: 3s\n"
    )
    cfg = load([
        f"-config.file={path}",
        "-ingester.partition-ring.store=etcd",
        "-ingester.partition-ring.etcd.endpoints=a:1,b:2",
    ]).config.ingester.partition_ring
    assert cfg.kvstore.store == "etcd" and cfg.kvstore_store == "etcd"
    assert cfg.kvstore.prefix == "tw/"
    assert cfg.kvstore.etcd.endpoints == ["a:1", "b:2"]
    assert cfg.kvstore.etcd.dial_timeout == 3.0
    cfg.kvstore.validate()


def test_kv_config_validation_names_the_flag():
    cfg = PartitionRingConfig()
    cfg.kvstore.store = "etcd"
    try:
        cfg.kvstore.validate()
    except InvalidKVConfigError as exc:
        assert "-ingester.partition-ring.etcd.endpoints" in str(exc)
    else:
        raise AssertionError("etcd without endpoints accepted")
    sg = StoreGatewayShardingRingConfig()
    sg.kvstore.etcd.max_retries = 0
    try:
        sg.kvstore.validate()
    except InvalidKVConfigError as exc:
        assert "-store-gateway.sharding-ring.etcd.max-retries" in str(exc)
    else:
        raise AssertionError("max_retries 0 accepted")


def test_forget_button_removes_an_instance():
    async def body() -> None:
        kv = InMemoryKV()
        desc = instance_ring().desc
        await kv.cas(STORE_GATEWAY_RING_KEY, lambda old: (desc, True))
        watcher = InstanceRingWatcher(kv, STORE_GATEWAY_RING_KEY,
                                      StoreGatewayShardingRingConfig(), clock=lambda: NOW)
        await watcher.start()
        app = Starlette(routes=ring_status_routes(store_gateway_ring=watcher))
        page = await request(app, "GET", "/store-gateway/ring")
        assert "name='forget'" in page.text
        r = await request(app, "POST", "/store-gateway/ring", data={"forget": "sg-b"})
        assert r.status_code == 303
        doc = (await request(app, "GET", "/store-gateway/ring?format=json")).json()
        assert [s["id"] for s in doc["shards"]] == ["sg-a"]
        r = await request(app, "POST", "/store-gateway/ring?format=json", data={"forget": "zz"})
        assert r.json() == {"forgotten": "zz", "found": False}
        r = await request(app, "POST", "/store-gateway/ring", data={})
        assert r.status_code == 400
        # A snapshot (no KV behind it) cannot forget.
        app2 = Starlette(routes=ring_status_routes(store_gateway_ring=instance_ring()))
        r = await request(app2, "POST", "/store-gateway/ring", data={"forget": "sg-a"})
        assert r.status_code == 400

    asyncio.run(body())
