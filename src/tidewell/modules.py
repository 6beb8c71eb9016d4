"""Wiring: which modules a target runs, what each needs, and how each is built.

Like Mimir's ``modules.go``: every module has an init function and a list of
dependencies; a target is a set of modules. ``build`` initialises the closure
of the requested targets in dependency order, collects their HTTP routes into
one server, and hands their services to a ``ServiceManager`` (started in the
same order, stopped in reverse: writes stop before the log closes).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp

from tidewell.api.consistency import ReadConsistencyMiddleware
from tidewell.api.prometheus import query_routes
from tidewell.api.server import HTTPServer, build_app
from tidewell.api.status import status_routes
from tidewell.config import Config
from tidewell.distributor import Distributor, Overrides, push_routes
from tidewell.frontend import QueryFrontend
from tidewell.ingest.backend import close_ingest_log, open_ingest_log
from tidewell.ingester import Ingester, ingester_routes
from tidewell.objstore.factory import new_bucket
from tidewell.querier.merge import MergeQueryable
from tidewell.ring import InMemoryKV, PartitionInstanceLifecycler, PartitionRingWatcher
from tidewell.storegateway.gateway import StoreGateway
from tidewell.util.config_tree import ConfigError
from tidewell.util.services import FunctionService, Service, ServiceManager

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


async def _init_overrides(app: App) -> Overrides:
    overrides = Overrides(app.config.limits, app.config.runtime_config)
    app.add_service("runtime-config", FunctionService(overrides.start, overrides.stop))
    return overrides


async def _init_ingest_log(app: App) -> tuple[Any, Any]:
    writer, reader = await open_ingest_log(app.config.ingest_storage, str(app.config.data_dir))

    async def close() -> None:
        await close_ingest_log(writer, reader)

    app.add_service("ingest-log", FunctionService(lambda: None, close))
    return writer, reader


async def _init_partition_ring(app: App) -> tuple[InMemoryKV, PartitionRingWatcher]:
    store = app.config.ingester.partition_ring.kvstore_store
    if store != "inmemory":
        raise ConfigError(
            f"-ingester.partition-ring.store={store} is not available yet: use inmemory"
        )
    kv = InMemoryKV()
    watcher = PartitionRingWatcher(kv)
    app.add_service("partition-ring", FunctionService(watcher.start, watcher.stop))
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
        # The in-memory KV is private to this process: nobody else can own the
        # partition, so waiting for owners to settle would only delay writes.
        partition_ring=dataclasses.replace(
            config.ingester.partition_ring, min_partition_owners_duration=0.0
        ),
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
    )
    app.add_service("ingester", ingester)
    app.routes.extend(ingester_routes(ingester))
    return ingester


async def _init_store_gateway(app: App) -> StoreGateway:
    config = app.config
    bucket = new_bucket(config.blocks_storage, config.data_dir / "bucket",
                        component="store-gateway")
    gateway = StoreGateway(
        config.blocks_storage.bucket_store,
        bucket,
        config.blocks_storage.bucket_store.resolved_sync_dir(config.data_dir),
    )
    app.add_service("store-gateway", gateway)
    return gateway


async def _init_querier(app: App) -> ASGIApp:
    """The Prometheus query API over ingesters (recent data) and store-gateways (blocks).

    Both are always asked and their answers merged (duplicates dropped), which
    is correct whatever the block ranges; time-based routing
    (``-querier.query-store-after``) is an optimisation left for later.
    Returns the querier's own ASGI app: with a query-frontend in the same
    process, the frontend calls it directly; otherwise it is served as is.
    """
    ingester: Ingester = app.objects["ingester"]
    queryable = MergeQueryable([ingester, app.objects["store-gateway"]])
    overrides: Overrides = app.objects["overrides"]

    def default_level(tenant: str) -> str:
        return overrides.for_tenant(tenant).ingest_storage_read_consistency

    async def wait(tenant: str) -> None:
        await ingester.wait_strong()

    def consistency(inner: ASGIApp) -> ASGIApp:
        return ReadConsistencyMiddleware(inner, wait=wait, default_level=default_level)

    api = Mount("/prometheus", routes=query_routes(queryable, app.config.querier))
    if "query-frontend" in app.modules:
        return build_app([api], multitenancy_enabled=app.config.multitenancy_enabled,
                         middlewares=[consistency])
    app.routes.append(api)
    app.middlewares.append(consistency)
    return api


async def _init_query_frontend(app: App) -> QueryFrontend:
    frontend = QueryFrontend.from_config(app.config.frontend, app=app.objects.get("querier"))
    app.routes.extend(frontend.routes())
    app.add_service("query-frontend", FunctionService(lambda: None, frontend.close))
    return frontend


MODULES: dict[str, Module] = {
    "overrides": Module((), _init_overrides),
    "ingest-log": Module((), _init_ingest_log),
    "partition-ring": Module((), _init_partition_ring),
    "distributor": Module(("overrides", "ingest-log", "partition-ring"), _init_distributor),
    "ingester": Module(("overrides", "ingest-log", "partition-ring"), _init_ingester),
    "store-gateway": Module((), _init_store_gateway),
    "querier": Module(("overrides", "ingester", "store-gateway"), _init_querier),
    "query-frontend": Module((), _init_query_frontend),
}

TARGET_GROUPS: dict[str, tuple[str, ...]] = {
    "all": ("ingester", "distributor", "store-gateway", "querier", "query-frontend"),
    "write": ("ingester", "distributor"),
    "read": ("querier", "query-frontend"),
    "backend": ("store-gateway",),
}


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
    # The frontend calls an in-process querier when there is one: build it last.
    order.sort(key=lambda name: name == "query-frontend")
    return order


def _check_shared_log(config: Config, modules: list[str]) -> None:
    writes, reads = "distributor" in modules, "ingester" in modules
    if writes != reads and config.ingest_storage.backend == "embedded":
        raise ConfigError(
            "the embedded log lives inside one process: running the distributor and the "
            "ingester in separate processes needs -ingest-storage.kafka.address"
        )


async def build(config: Config) -> App:
    modules = resolve(config.target)
    app = App(config=config, modules=modules)
    _check_shared_log(config, modules)
    for name in modules:
        app.objects[name] = await MODULES[name].init(app)
    routes = [*status_routes(config, app.manager), *app.routes]
    asgi = build_app(routes, multitenancy_enabled=config.multitenancy_enabled,
                     middlewares=app.middlewares)
    # The server starts first so /ready can say 503 while the others start.
    app.manager.add("server", HTTPServer(asgi, config.server), first=True)
    return app
