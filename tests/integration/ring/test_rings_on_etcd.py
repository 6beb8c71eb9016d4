"""Partition and instance rings shared through a real etcd, including an etcd restart."""

from __future__ import annotations

import asyncio
import time

import pytest

from tidewell.ring import (
    STORE_GATEWAY_RING_KEY,
    EtcdKV,
    InstanceLifecycler,
    InstanceRingWatcher,
    InstanceState,
    PartitionInstanceLifecycler,
    PartitionRingConfig,
    PartitionRingWatcher,
    PartitionState,
    PrefixedKV,
    StoreGatewayShardingRingConfig,
    close_kv,
    new_kv,
)
from tidewell.ring.testing import eventually

from .test_etcd_kv import etcd_kv_config

pytestmark = pytest.mark.timeout(90)


def test_partition_ring_through_etcd_pending_active_inactive(etcd):
    async def body() -> None:
        kvcfg = etcd_kv_config(etcd.endpoint)
        # Three processes' worth of clients: a distributor's watcher, two ingesters.
        kv_d, kv_a, kv_b = new_kv(kvcfg), new_kv(kvcfg), new_kv(kvcfg)
        cfg = PartitionRingConfig(min_partition_owners_count=2, min_partition_owners_duration=0)
        watcher = PartitionRingWatcher(kv_d)
        await watcher.start()
        seen: list[list[int]] = []
        watcher.on_change(lambda r: seen.append(r.partition_ids(PartitionState.ACTIVE)))
        lc_a = PartitionInstanceLifecycler(kv_a, cfg)
        lc_b = PartitionInstanceLifecycler(kv_b, cfg)
        await lc_a.register(0, "ingester-zone-a-0")
        await eventually(
            lambda: watcher.partition_ring().partition_ids(PartitionState.PENDING) == [0],
            what="PENDING partition")
        await lc_a.reconcile()  # one owner of two: stays PENDING
        assert (await lc_a.downscale_state())[0] is PartitionState.PENDING
        await lc_b.register(0, "ingester-zone-b-0")
        await lc_b.reconcile()
        await eventually(lambda: watcher.partition_ring().active_partition_ids == [0],
                         what="ACTIVE partition")
        owners = watcher.partition_ring().desc.owners_of(0)
        assert set(owners) == {"ingester-zone-a-0", "ingester-zone-b-0"}
        await lc_a.prepare_downscale()
        await eventually(
            lambda: watcher.partition_ring().partition_ids(PartitionState.INACTIVE) == [0],
            what="INACTIVE partition")
        assert watcher.partition_ring().active_partition_ids == []
        assert (await lc_b.downscale_state())[0] is PartitionState.INACTIVE
        assert [0] in seen
        watcher.stop()
        for kv in (kv_d, kv_a, kv_b):
            await close_kv(kv)

    asyncio.run(asyncio.wait_for(body(), 60))


def test_watchers_and_lifecyclers_survive_an_etcd_restart(private_etcd):
    async def body() -> None:
        kvcfg = etcd_kv_config(private_etcd.endpoint, max_retries=3)
        # as new_kv builds them, reconnecting fast
        kv_reader, kv_ingester, kv_sg = (
            PrefixedKV(EtcdKV(kvcfg.etcd, watch_backoff_max=0.2), kvcfg.prefix) for _ in range(3))
        pcfg = PartitionRingConfig(min_partition_owners_duration=0)
        pwatch = PartitionRingWatcher(kv_reader)
        await pwatch.start()
        plc = PartitionInstanceLifecycler(kv_ingester, pcfg)
        await plc.register(1, "ingester-zone-a-1")
        await plc.reconcile()
        await eventually(lambda: pwatch.partition_ring().active_partition_ids == [1],
                         what="ACTIVE before restart")

        sgcfg = StoreGatewayShardingRingConfig(heartbeat_period=0.05, heartbeat_timeout=5.0)
        iwatch = InstanceRingWatcher(kv_reader, STORE_GATEWAY_RING_KEY, sgcfg)
        await iwatch.start()
        sg = InstanceLifecycler(kv_sg, STORE_GATEWAY_RING_KEY, sgcfg,
                                instance_id="store-gateway-zone-a-0", addr="127.0.0.1:9095",
                                zone="zone-a")
        await sg.start()
        await eventually(lambda: len(iwatch.instance_ring().healthy_instances()) == 1,
                         what="store-gateway registered")

        private_etcd.kill()
        await asyncio.sleep(0.5)  # heartbeats and watches fail meanwhile
        private_etcd.start()
        restarted = time.time()

        # Writes after the restart reach the old watchers without any manual step.
        await plc.prepare_downscale()
        await eventually(
            lambda: pwatch.partition_ring().partition_ids(PartitionState.INACTIVE) == [1],
            timeout=20, what="watcher to see INACTIVE after restart")
        # The lifecycler's heartbeats resumed and the watcher sees them.
        await eventually(
            lambda: any(i.timestamp > restarted + 0.1
                        for i in iwatch.instance_ring().instances()),
            timeout=20, what="heartbeat after restart")
        inst = iwatch.instance_ring().instances()[0]
        assert inst.state is InstanceState.ACTIVE and inst.zone == "zone-a"
        assert len(inst.tokens) == 512

        await sg.stop()
        await eventually(lambda: iwatch.instance_ring().instances() == [],
                         what="unregister seen by watcher")
        pwatch.stop()
        iwatch.stop()
        for kv in (kv_reader, kv_ingester, kv_sg):
            await close_kv(kv)

    asyncio.run(asyncio.wait_for(body(), 75))
