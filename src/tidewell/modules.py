"""Wiring: which modules a target runs, what each needs, and how each is built.

Like Mimir's ``modules.go``: every module has an init function and a list of
dependencies; a target is a set of modules. ``build`` initialises the closure
of the requested targets in dependency order, collects their HTTP routes into
one server, and hands their services to a ``ServiceManager`` (started in the
same order, stopped in reverse: writes stop before the log closes).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp

from tidewell.api.cardinality import cardinality_routes
from tidewell.api.config import ServerConfig
from tidewell.api.consistency import ReadConsistencyMiddleware
from tidewell.api.index_page import index_routes
from tidewell.api.instrument import InstrumentMiddleware
from tidewell.api.internal import (
    internal_cardinality_routes,
    internal_meta_routes,
    internal_query_routes,
)
from tidewell.api.local_rings import LocalInstanceRing
from tidewell.api.prometheus import query_routes
from tidewell.api.ready_guard import ReadyGuard
from tidewell.api.runtime_config import runtime_config_routes
from tidewell.api.server import HTTPServer, build_app
from tidewell.api.status import status_routes
from tidewell.api.status_tsdb import status_tsdb_routes
from tidewell.compactor.cleaner import TenantLimits
from tidewell.compactor.compactor import Compactor
from tidewell.compactor.routes import compactor_routes
from tidewell.compactor.sharding import (
    COMPACTOR_RING_KEY,
    job_owner,
    tenant_in_shard,
    tenant_owner,
)
from tidewell.config import Config
from tidewell.distributor import Distributor, Overrides, push_routes
from tidewell.distributor.floors import RemoteAppendableFloors
from tidewell.frontend import QueryFrontend
from tidewell.frontend.sharding import ShardingLimits
from tidewell.ingest.backend import close_ingest_log, open_ingest_log
from tidewell.ingester import Ingester, ingester_routes
from tidewell.model import Queryable
from tidewell.objstore.factory import new_bucket
from tidewell.promql.budget import QueryLimits
from tidewell.querier.blocks import BlocksStoreQueryable, BucketIndexBlocksFinder
from tidewell.querier.cardinality import (
    CardinalitySource,
    LocalCardinality,
    PartitionsCardinality,
)
from tidewell.querier.meta import MetaSource, PartitionsMetaSource
from tidewell.querier.partitions import PartitionsQueryable
from tidewell.querier.routing import TimeRoutedQueryable
from tidewell.ring import (
    INGESTER_RING_KEY,
    STORE_GATEWAY_RING_KEY,
    PartitionInstanceLifecycler,
    PartitionRingWatcher,
)
from tidewell.ring.config import InstanceRingConfig, JoinedRingConfig, KVConfig
from tidewell.ring.instance_lifecycler import InstanceLifecycler
from tidewell.ring.instance_ring import InstanceRingWatcher, InstanceState
from tidewell.ring.kv import KV
from tidewell.ring.kv_factory import close_kv, kv_supervisors, new_kv
from tidewell.ring.status import ring_status_routes
from tidewell.ruler.querying import RuleQuerier
from tidewell.ruler.ring import RULER_RING_KEY, group_owner
from tidewell.ruler.ruler import Ruler
from tidewell.ruler.store import BucketRuleStore, LocalRuleStore, RuleStore
from tidewell.storegateway.gateway import StoreGateway
from tidewell.storegateway.sharding import RingShardingStrategy
from tidewell.storegateway.status import store_gateway_status_routes
from tidewell.ui import ui_routes
from tidewell.util.config_tree import ConfigError
from tidewell.util.priority import WRITES
from tidewell.util.services import FunctionService, Service, ServiceManager, Supervisor

log = logging.getLogger("tidewell.modules")

Middleware = Callable[[ASGIApp], ASGIApp]


@dataclass
class App:
    """The objects built for one process, by module name."""

    config: Config
    modules: list[str] = field(default_factory=list)
    objects: dict[str, Any] = field(default_factory=dict)
    routes: list[BaseRoute] = field(default_factory=list)
    middlewares: list[Middleware] = field(default_factory=list)
    manager: ServiceManager = field(default_factory=ServiceManager)

    def add_service(self, name: str, service: Service) -> None:
        self.manager.add(name, service)


@dataclass(frozen=True)
class Module:
    deps: tuple[str, ...]
    init: Callable[[App], Awaitable[Any]]


class OverridesLimits:
    """The ingester's view of per-tenant limits (``IngesterLimits``) over ``Overrides``."""

    def __init__(self, overrides: Overrides) -> None:
        self._overrides = overrides

    def max_global_series_per_user(self, tenant: str) -> int:
        return self._overrides.for_tenant(tenant).max_global_series_per_user

    def out_of_order_time_window(self, tenant: str) -> float:
        return self._overrides.for_tenant(tenant).out_of_order_time_window

    def ingestion_partitions_tenant_shard_size(self, tenant: str) -> int:
        return self._overrides.for_tenant(tenant).ingestion_partitions_tenant_shard_size

    def max_global_exemplars_per_user(self, tenant: str) -> int:
        return self._overrides.for_tenant(tenant).max_global_exemplars_per_user

    def max_global_metadata_per_user(self, tenant: str) -> int:
        return self._overrides.for_tenant(tenant).max_global_metadata_per_user

    def max_global_metadata_per_metric(self, tenant: str) -> int:
        return self._overrides.for_tenant(tenant).max_global_metadata_per_metric


def tenant_query_limits(overrides: Overrides, max_samples: int) -> Callable[[str], QueryLimits]:
    """A tenant's query limits from its overrides, read per query so runtime-config
    reloads apply to the next query (``-querier.max-samples`` is per querier, as in Mimir)."""

    def limits(tenant: str) -> QueryLimits:
        lim = overrides.for_tenant(tenant)
        return QueryLimits(
            max_samples=max_samples,
            max_fetched_series=lim.max_fetched_series_per_query,
            max_fetched_chunk_bytes=lim.max_fetched_chunk_bytes_per_query,
            max_memory_bytes=lim.max_estimated_memory_consumption_per_query,
            max_query_length_ms=round(lim.max_partial_query_length * 1000),
        )

    return limits


async def _init_overrides(app: App) -> Overrides:
    overrides = Overrides(app.config.limits, app.config.runtime_config)
    app.add_service("runtime-config", FunctionService(overrides.start, overrides.stop,
                                                      supervisors=[overrides.supervisor]))
    return overrides


async def _init_ingest_log(app: App) -> tuple[Any, Any]:
    writer, reader = await open_ingest_log(app.config.ingest_storage, str(app.config.data_dir))

    async def close() -> None:
        await close_ingest_log(writer, reader)

    loops = [s for s in (getattr(writer, "supervisor", None),) if isinstance(s, Supervisor)]
    app.add_service("ingest-log", FunctionService(lambda: None, close, supervisors=loops))
    return writer, reader


def _open_kv(app: App, config: KVConfig, name: str) -> KV:
    """A KV client closed at shutdown; in-memory stores are shared within the process."""
    try:
        config.validate()
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if config.store == "inmemory":
        shared = app.objects.get("_inmemory_kv")
        if shared is None:
            shared = app.objects["_inmemory_kv"] = new_kv(config, name=name)
        return shared
    kv = new_kv(config, name=name)

    async def close() -> None:
        await close_kv(kv)

    app.add_service(f"{name}-kv", FunctionService(lambda: None, close,
                                                  supervisors=kv_supervisors(kv)))
    return kv


def _advertised_addr(ring: InstanceRingConfig, server: ServerConfig) -> str:
    """``host:port`` other processes use to reach this one (``instance_addr`` wins)."""
    if ring.instance_addr:
        return ring.instance_addr
    host = server.http_listen_address
    if host in ("", "0.0.0.0"):
        host = socket.gethostbyname(socket.gethostname())
    return f"{host}:{server.http_listen_port}"


def _lifecycler(
    kv: KV, key: str, ring: JoinedRingConfig, server: ServerConfig, name: str
) -> InstanceLifecycler:
    """What registers this process in an instance ring: its ID, address and zone."""
    return InstanceLifecycler(kv, key, ring, instance_id=ring.instance_id,
                              addr=_advertised_addr(ring, server),
                              zone=ring.instance_availability_zone, name=name)


async def _init_partition_ring(app: App) -> tuple[KV, PartitionRingWatcher]:
    kv = _open_kv(app, app.config.ingester.partition_ring.kvstore, "partition-ring")
    watcher = PartitionRingWatcher(kv)
    app.add_service("partition-ring", FunctionService(watcher.start, watcher.stop))
    app.routes.extend(ring_status_routes(partition_ring=watcher))
    return kv, watcher


def _watch_instance_ring(
    app: App, ring: InstanceRingConfig, key: str, name: str
) -> tuple[KV, InstanceRingWatcher]:
    kv = _open_kv(app, ring.kvstore, f"{name}-ring")
    watcher = InstanceRingWatcher(kv, key, ring, name=name)
    app.add_service(f"{name}-ring", FunctionService(watcher.start, watcher.stop))
    return kv, watcher


async def _init_ingester_ring(app: App) -> tuple[KV, InstanceRingWatcher]:
    kv, watcher = _watch_instance_ring(app, app.config.ingester.ring, INGESTER_RING_KEY,
                                       "ingester")
    app.routes.extend(ring_status_routes(ingester_ring=watcher))
    return kv, watcher


async def _init_store_gateway_ring(app: App) -> tuple[KV, InstanceRingWatcher]:
    kv, watcher = _watch_instance_ring(app, app.config.store_gateway.sharding_ring,
                                       STORE_GATEWAY_RING_KEY, "store-gateway")
    app.routes.extend(ring_status_routes(store_gateway_ring=watcher))
    return kv, watcher


async def _init_distributor(app: App) -> Distributor:
    writer, _ = app.objects["ingest-log"]
    _, watcher = app.objects["partition-ring"]
    distributor = Distributor(
        app.config.distributor,
        app.objects["overrides"],
        watcher,
        writer,
        max_record_size=app.config.ingest_storage.kafka.producer_max_record_size_bytes,
    )
    app.routes.extend(push_routes(distributor))
    local = app.objects.get("ingester")
    if local is not None:  # one process: refuse what the head would drop (distributor/DESIGN.md)
        distributor.appendable_floors = local.appendable_floors
    elif "ingester" not in app.modules:  # ingesters elsewhere: poll their floors
        _, ingesters = app.objects["ingester-ring"]
        floors = RemoteAppendableFloors(
            watcher, ingesters, interval_s=app.config.distributor.appendable_floors_poll_interval)
        app.add_service("appendable-floors", floors)
        distributor.appendable_floors = floors.floors
    return distributor


_TRAILING_NUMBER = re.compile(r"\d+$")


def _single_process_instance_id(app: App) -> str:
    """The ingester's instance ID, made to end in a partition number in single-process mode.

    A cluster needs IDs like ``ingester-zone-a-7`` (the number is the partition).
    One process on the embedded log has only partition 0, so a plain hostname
    becomes ``<hostname>-0`` rather than a startup error.
    """
    instance_id = app.config.ingester.ring.instance_id
    if _TRAILING_NUMBER.search(instance_id) or app.config.ingest_storage.backend != "embedded":
        return instance_id
    fixed = f"{instance_id}-0"
    log.info(
        "instance ID has no partition number; consuming partition 0 of the embedded log",
        extra={"fields": {"instance_id": fixed}},
    )
    return fixed


async def _init_ingester(app: App) -> Ingester:
    config = app.config
    _, reader = app.objects["ingest-log"]
    kv, _ = app.objects["partition-ring"]
    instance_id = _single_process_instance_id(app)
    ingester_config = dataclasses.replace(
        config.ingester,
        ring=dataclasses.replace(config.ingester.ring, instance_id=instance_id),
        partition_ring=_partition_ring_config(app),
    )
    lifecycler = PartitionInstanceLifecycler(kv, ingester_config.partition_ring)
    ingester = Ingester(
        ingester_config,
        config.blocks_storage.tsdb,
        config.ingest_storage,
        OverridesLimits(app.objects["overrides"]),
        reader,
        config.data_dir,
        lifecycler,
        bucket=new_bucket(config.blocks_storage, config.data_dir / "bucket", component="ingester"),
    )
    app.add_service("ingester", ingester)
    app.routes.extend(ingester_routes(ingester))
    local = app.objects.get("distributor")
    if local is not None:  # one process: refuse what the head would drop (distributor/DESIGN.md)
        local.appendable_floors = ingester.appendable_floors
    if "querier" not in app.modules or "distributor" not in app.modules:
        _serve_remotely(app, ingester, consistency_waiter=ingester.wait_until_caught_up)
        app.routes.extend(internal_meta_routes(ingester.tenants))
        app.routes.extend(internal_cardinality_routes(
            ingester.tenants, ingester_config.active_series_metrics_idle_timeout))
        ring_kv, _ = app.objects["ingester-ring"]
        lifecycler = _lifecycler(ring_kv, INGESTER_RING_KEY, ingester_config.ring, config.server,
                                 "ingester")
        # Joins the ring only once the ingester caught up (services start in order).
        app.add_service("ingester-lifecycler", lifecycler)
    return ingester


def _partition_ring_config(app: App) -> Any:
    ring = app.config.ingester.partition_ring
    if ring.kvstore.store != "inmemory":
        return ring
    # The in-memory KV is private to this process: nobody else can own the
    # partition, so waiting for owners to settle would only delay writes.
    return dataclasses.replace(ring, min_partition_owners_duration=0.0)


def _serve_remotely(app: App, queryable: Queryable, **kwargs: Any) -> None:
    """Expose a local component to queriers in other processes."""
    app.routes.extend(internal_query_routes(queryable, **kwargs))
    ready = getattr(queryable, "ready", None)
    if callable(ready):
        app.middlewares.append(lambda inner: ReadyGuard(inner, ready))


async def _init_store_gateway(app: App) -> StoreGateway:
    """The store-gateway; alone in its process it joins the ring and loads only its blocks.

    Alone, it registers JOINING, loads the blocks the ring gives it (JOINING owners
    count), then turns ACTIVE, so queriers ask it only once it has them. Beside a
    querier (one process, no ring) it loads every block.
    """
    config = app.config
    bucket = new_bucket(config.blocks_storage, config.data_dir / "bucket",
                        component="store-gateway")
    sync_dir = config.blocks_storage.bucket_store.resolved_sync_dir(config.data_dir)
    if "querier" in app.modules:
        gateway = StoreGateway(config.blocks_storage.bucket_store, bucket, sync_dir)
        app.add_service("store-gateway", gateway)
        return gateway
    ring = config.store_gateway.sharding_ring
    ring_kv, watcher = app.objects["store-gateway-ring"]
    gateway = StoreGateway(config.blocks_storage.bucket_store, bucket, sync_dir,
                           sharding=RingShardingStrategy(watcher, ring.instance_id))
    lifecycler = _lifecycler(ring_kv, STORE_GATEWAY_RING_KEY, ring, config.server, "store-gateway")

    async def start() -> None:
        await lifecycler.change_state(InstanceState.JOINING)
        for _ in range(100):  # the first sync must see this instance in the ring
            if ring.instance_id in watcher.instance_ring().desc.instances:
                break
            await asyncio.sleep(0.05)
        await gateway.start()
        await lifecycler.start()  # ACTIVE, and heartbeats

    async def stop() -> None:
        await lifecycler.stop()
        await gateway.stop()

    app.add_service("store-gateway",
                    FunctionService(start, stop,
                                    supervisors=[gateway.supervisor, lifecycler.supervisor]))
    _serve_remotely(app, gateway)
    app.routes.extend(store_gateway_status_routes(gateway))
    return gateway


async def _init_querier(app: App) -> ASGIApp:
    """The Prometheus query API over ingesters (recent data) and store-gateways (blocks).

    Ingesters and store-gateways in this process are called directly; others
    are found in their rings and called over the network: store-gateways shard
    the blocks, so each block found in the bucket index is asked of one of its
    owners (``BlocksStoreQueryable``); exemplars and metadata come from the
    ingesters alone, every owner of each partition (``PartitionsMetaSource``).
    Which of the two a query asks depends on its time range
    (``-querier.query-ingesters-within``, ``-querier.query-store-after``);
    answers are merged, duplicates dropped. Returns the querier's own ASGI app:
    with a query-frontend in the same process, the frontend calls it directly;
    otherwise it is served as is.
    """
    config = app.config
    overrides: Overrides = app.objects["overrides"]
    timeout = config.ingest_storage.kafka.wait_strong_read_consistency_timeout
    wait: Callable[[str], Awaitable[None]]
    if "ingester" in app.modules:
        ingester: Ingester = app.objects["ingester"]
        recent: Queryable = ingester
        meta: MetaSource = ingester.tenants
        cardinality: CardinalitySource = LocalCardinality(
            ingester.tenants, config.ingester.active_series_metrics_idle_timeout)

        async def wait(tenant: str) -> None:
            await ingester.wait_strong()
    else:
        _, partition_watcher = app.objects["partition-ring"]
        _, ingester_watcher = app.objects["ingester-ring"]
        _, reader = app.objects["ingest-log"]
        partitions = PartitionsQueryable(
            partition_watcher, ingester_watcher,
            shard_size=lambda t: overrides.for_tenant(t).ingestion_partitions_tenant_shard_size,
        )
        recent = partitions
        meta = PartitionsMetaSource(partitions)
        cardinality = PartitionsCardinality(partitions)

        async def wait(tenant: str) -> None:
            await partitions.wait_caught_up(tenant, reader.end_offset, timeout)
    if "store-gateway" in app.modules:
        blocks: Queryable = app.objects["store-gateway"]
    else:
        _, sg_watcher = app.objects["store-gateway-ring"]
        bucket_store = config.blocks_storage.bucket_store
        finder = BucketIndexBlocksFinder(
            new_bucket(config.blocks_storage, config.data_dir / "bucket", component="querier"),
            ignore_deletion_mark_delay_s=bucket_store.ignore_deletion_mark_delay,
            ignore_blocks_within_s=bucket_store.ignore_blocks_within,
            max_stale_period_s=bucket_store.bucket_index.max_stale_period,
        )
        # Gateways find new blocks at their next sync: Mimir allows 3 sync intervals.
        blocks = BlocksStoreQueryable(finder, sg_watcher,
                                      upload_grace_s=3 * bucket_store.sync_interval)
    queryable = TimeRoutedQueryable(
        recent, blocks,
        query_ingesters_within_s=config.querier.query_ingesters_within,
        query_store_after_s=config.querier.query_store_after,
    )

    def default_level(tenant: str) -> str:
        return overrides.for_tenant(tenant).ingest_storage_read_consistency

    def consistency(inner: ASGIApp) -> ASGIApp:
        return ReadConsistencyMiddleware(inner, wait=wait, default_level=default_level)

    step_aside = config.querier.write_priority_max_wait  # query threads, for pushes
    WRITES.configure(max_wait_s=step_aside, min_run_s=step_aside)
    slots = anyio.CapacityLimiter(config.querier.max_concurrent)  # cardinality counting
    api = Mount("/prometheus", routes=[
        *query_routes(
            queryable, config.querier, meta,
            tenant_limits=tenant_query_limits(overrides, config.querier.max_samples),
            delayed_name_removal=lambda t: overrides.for_tenant(t).enable_delayed_name_removal),
        *cardinality_routes(cardinality, overrides.for_tenant, limiter=slots),
        *status_tsdb_routes(cardinality, overrides.for_tenant, limiter=slots),
    ])
    if "query-frontend" in app.modules:
        return build_app([api], multitenancy_enabled=config.multitenancy_enabled,
                         no_auth_tenant=config.no_auth_tenant, middlewares=[consistency])
    app.routes.append(api)
    app.middlewares.append(consistency)
    return api


async def _init_compactor(app: App) -> Compactor:
    """The compactor, in the compactor ring (tenants split between instances).

    In a process that also runs an ingester, the shipper refreshes the bucket
    index through the compactor's blocks cleaner, so the index has one writer.
    """
    config = app.config
    cc = config.compactor
    overrides: Overrides = app.objects["overrides"]

    def tenant_limits(tenant: str) -> TenantLimits:
        limits = overrides.for_tenant(tenant)
        return TenantLimits(limits.compactor_blocks_retention_period,
                            limits.compactor_partial_block_deletion_delay,
                            limits.compactor_split_and_merge_shards,
                            limits.compactor_split_groups)

    def shard_size(tenant: str) -> int:
        return overrides.for_tenant(tenant).compactor_tenant_shard_size

    ring = cc.sharding_ring
    kv, watcher = _watch_instance_ring(app, ring, COMPACTOR_RING_KEY, "compactor")
    app.routes.extend(ring_status_routes(compactor_ring=watcher))
    compactor = Compactor(
        new_bucket(config.blocks_storage, config.data_dir / "bucket", component="compactor"),
        cc,
        Path(cc.data_dir) if cc.data_dir else config.data_dir / "compactor",
        limits=tenant_limits,
        owns_tenant=lambda t: tenant_owner(watcher.instance_ring(), t,
                                           shard_size(t)) == ring.instance_id,
        owns_job=lambda t, j: job_owner(watcher.instance_ring(), t, j,
                                        shard_size(t)) == ring.instance_id,
        plans_tenant=lambda t: tenant_in_shard(watcher.instance_ring(), t, shard_size(t),
                                               ring.instance_id),
    )
    lifecycler = _lifecycler(kv, COMPACTOR_RING_KEY, ring, config.server, "compactor")

    async def start() -> None:
        await lifecycler.start()
        await compactor.start()

    async def stop() -> None:
        await compactor.stop()
        await lifecycler.stop()

    app.add_service("compactor", FunctionService(start, stop))
    app.routes.extend(compactor_routes(compactor))
    ingester = app.objects.get("ingester")
    if ingester is not None and ingester.shipper is not None:
        ingester.shipper.index_writer = compactor.clean_tenant
    return compactor


async def _init_query_frontend(app: App) -> QueryFrontend:
    overrides: Overrides = app.objects["overrides"]
    frontend = QueryFrontend.from_config(
        app.config.frontend, app=app.objects.get("querier"),
        max_total_query_length=lambda t: overrides.for_tenant(t).max_total_query_length,
        sharding=ShardingLimits(
            total_shards=lambda t: overrides.for_tenant(t).query_sharding_total_shards,
            max_sharded_queries=lambda t: (
                overrides.for_tenant(t).query_sharding_max_sharded_queries),
            delayed_name_removal=lambda t: overrides.for_tenant(t).enable_delayed_name_removal,
            max_regexp_size_bytes=lambda t: (
                overrides.for_tenant(t).query_sharding_max_regexp_size_bytes)))
    app.routes.extend(frontend.routes())
    app.add_service("query-frontend", FunctionService(lambda: None, frontend.close,
                                                      supervisors=[frontend.queue.supervisor],
                                                      on_drain=frontend.drain))
    return frontend


async def _init_ruler(app: App) -> Ruler:
    """The ruler: queries through the query-frontend (``-ruler.query-frontend.address``, or
    the one in this process), writes through the distributor (this process's: with ingest
    storage the ruler writes to the log like a distributor, as in Mimir)."""
    config = app.config
    rc = config.ruler
    frontend: QueryFrontend | None = app.objects.get("query-frontend")
    if rc.query_frontend.address:
        querier = RuleQuerier.over_http(rc.query_frontend.address, rc.query_frontend.timeout)
    else:
        assert frontend is not None  # _check_ruler
        querier = RuleQuerier.in_process(
            build_app(frontend.routes(), multitenancy_enabled=config.multitenancy_enabled,
                      no_auth_tenant=config.no_auth_tenant), rc.query_frontend.timeout)
    rs = config.ruler_storage
    store: RuleStore
    if rs.backend == "local":
        store = LocalRuleStore(Path(rs.local.directory))
    else:
        store = BucketRuleStore(new_bucket(rs, config.data_dir / "ruler-storage",
                                           component="ruler"))
    overrides: Overrides = app.objects["overrides"]
    ring = rc.ring
    kv, watcher = _watch_instance_ring(app, ring, RULER_RING_KEY, "ruler")
    app.routes.extend(ring_status_routes(ruler_ring=watcher))
    ruler = Ruler(rc, store, querier, app.objects["distributor"].push, overrides.for_tenant,
                  owns=lambda key: group_owner(watcher.instance_ring(), key) == ring.instance_id,
                  peers=lambda: [f"http://{i.addr}" for i in
                                 watcher.instance_ring().healthy_instances()
                                 if i.id != ring.instance_id])
    lifecycler = _lifecycler(kv, RULER_RING_KEY, ring, config.server, "ruler")

    async def start() -> None:
        await lifecycler.start()
        await ruler.start()

    async def stop() -> None:
        await ruler.stop()
        await lifecycler.stop()

    app.routes[0:0] = ruler.routes()  # before the query-frontend's catch-all proxy
    app.add_service("ruler", FunctionService(
        start, stop, supervisors=[*ruler.supervisors, lifecycler.supervisor]))
    return ruler


MODULES: dict[str, Module] = {
    "overrides": Module((), _init_overrides),
    "ingest-log": Module((), _init_ingest_log),
    "partition-ring": Module((), _init_partition_ring),
    "ingester-ring": Module((), _init_ingester_ring),
    "store-gateway-ring": Module((), _init_store_gateway_ring),
    "distributor": Module(("overrides", "ingest-log", "partition-ring"), _init_distributor),
    "ingester": Module(("overrides", "ingest-log", "partition-ring"), _init_ingester),
    "store-gateway": Module((), _init_store_gateway),
    "querier": Module(("overrides",), _init_querier),
    "query-frontend": Module(("overrides",), _init_query_frontend),
    "compactor": Module(("overrides",), _init_compactor),
    "ruler": Module(("overrides", "distributor"), _init_ruler),
}

# What a module needs only when a peer it talks to runs in another process.
_REMOTE_DEPS: dict[str, dict[str, tuple[str, ...]]] = {
    "ingester": {"querier": ("ingester-ring",), "distributor": ("ingester-ring",)},
    "store-gateway": {"querier": ("store-gateway-ring",)},
    "distributor": {"ingester": ("ingester-ring",)},
    "querier": {
        "ingester": ("partition-ring", "ingester-ring", "ingest-log"),
        "store-gateway": ("store-gateway-ring",),
    },
}

TARGET_GROUPS: dict[str, tuple[str, ...]] = {
    "all": ("ingester", "distributor", "store-gateway", "compactor", "querier",
            "query-frontend", "ruler"),
    "write": ("ingester", "distributor"),
    "read": ("querier", "query-frontend"),
    "backend": ("store-gateway", "compactor", "ruler"),
}


_INFRA = ("overrides", "ingest-log", "partition-ring", "ingester-ring", "store-gateway-ring")


def resolve(targets: list[str]) -> list[str]:
    """Modules to run, dependencies first."""
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if name not in MODULES:
            raise ConfigError(f"-target={name} is not available in this build yet")
        for dep in MODULES[name].deps:
            visit(dep)
        order.append(name)

    for target in targets:
        for name in TARGET_GROUPS.get(target, (target,)):
            visit(name)
    local = set(order)
    for name in list(order):
        for peer, deps in _REMOTE_DEPS.get(name, {}).items():
            if peer not in local:
                for dep in deps:
                    visit(dep)
    # Rings and logs first, then components in the order they were asked for;
    # the frontend calls an in-process querier when there is one, so it is built last
    # but for the ruler, which queries through it.
    last = {"query-frontend": 1, "ruler": 2}
    order.sort(key=lambda name: (name not in _INFRA, last.get(name, 0)))
    return order


def _check_shared_state(config: Config, modules: list[str]) -> None:
    """Components split over processes must share their log and their rings."""
    writes, reads = "distributor" in modules, "ingester" in modules
    split = writes != reads or ("querier" in modules and not reads)
    if split and config.ingest_storage.backend == "embedded":
        raise ConfigError(
            "the embedded log lives inside one process: running the distributor, the "
            "ingester and the querier in separate processes needs "
            "-ingest-storage.kafka.address"
        )
    rings = {
        "partition-ring": ("ingester.partition-ring", config.ingester.partition_ring.kvstore),
        "ingester-ring": ("ingester.ring", config.ingester.ring.kvstore),
        "store-gateway-ring": ("store-gateway.sharding-ring",
                               config.store_gateway.sharding_ring.kvstore),
    }
    for module, (flag, kv) in rings.items():
        if module in modules and kv.store == "inmemory" and split | (module != "partition-ring"):
            raise ConfigError(
                f"-{flag}.store=inmemory cannot be shared with other processes: "
                f"use -{flag}.store=etcd with -{flag}.etcd.endpoints"
            )


def _check_ruler(config: Config, modules: list[str]) -> None:
    if ("ruler" in modules and "query-frontend" not in modules
            and not config.ruler.query_frontend.address):
        raise ConfigError("-target=ruler evaluates rules through a query-frontend: set "
                          "-ruler.query-frontend.address")
    # Beside the ingester (-target=all) one process holds the whole store; a ruler outside
    # it is meant to run as several, and each with its own in-memory ring would own every
    # group: each group evaluated once per ruler, its results written as many times.
    if ("ruler" in modules and "ingester" not in modules
            and config.ruler.ring.kvstore.store == "inmemory"):
        raise ConfigError("-ruler.ring.store=inmemory cannot be shared with other rulers (each "
                          "would evaluate every rule group): use -ruler.ring.store=etcd with "
                          "-ruler.ring.etcd.endpoints")


def _local_ring_pages(app: App) -> list[BaseRoute]:
    """Ring (and store-gateway) pages of components that joined no ring: they share the
    querier's process."""
    config = app.config

    def running(module: str) -> Callable[[], bool]:
        return lambda: app.manager.states().get(module) == "Running"

    rings: dict[str, Any] = {}
    pages: list[BaseRoute] = []
    if "ingester" in app.modules and "ingester-ring" not in app.modules:
        ring = config.ingester.ring
        rings["ingester_ring"] = LocalInstanceRing(
            "ingester", app.objects["ingester"].instance_id,
            _advertised_addr(ring, config.server), ring.instance_availability_zone,
            running("ingester"))
    if "store-gateway" in app.modules and "store-gateway-ring" not in app.modules:
        ring = config.store_gateway.sharding_ring
        rings["store_gateway_ring"] = LocalInstanceRing(
            "store-gateway", ring.instance_id, _advertised_addr(ring, config.server),
            ring.instance_availability_zone, running("store-gateway"))
        pages += store_gateway_status_routes(app.objects["store-gateway"])
    return [*ring_status_routes(**rings), *pages] if rings else pages


def buildinfo_features(modules: list[str]) -> dict[str, str]:
    """Mimir's ``buildinfo`` features, as Grafana reads them (strings, not booleans)."""
    return {"ruler_config_api": "true" if "ruler" in modules else "false",
            "alertmanager_config_api": "false", "query_sharding": "false"}


async def build(config: Config) -> App:
    modules = resolve(config.target)
    app = App(config=config, modules=modules)
    _check_ruler(config, modules)
    _check_shared_state(config, modules)
    for name in modules:
        app.objects[name] = await MODULES[name].init(app)
    routes = [*status_routes(config, app.manager, buildinfo_features(modules)),
              *_local_ring_pages(app), *app.routes]
    if "overrides" in app.objects:
        routes += runtime_config_routes(app.objects["overrides"])
    if "querier" in modules or "query-frontend" in modules:
        routes += ui_routes(app.objects.get("store-gateway"))
    routes += index_routes(routes)
    asgi = build_app(routes, multitenancy_enabled=config.multitenancy_enabled,
                     no_auth_tenant=config.no_auth_tenant, middlewares=app.middlewares)
    # The server starts first so /ready can say 503 while the others start.
    app.manager.add("server", HTTPServer(InstrumentMiddleware(asgi, routes), config.server),
                    first=True)
    return app
