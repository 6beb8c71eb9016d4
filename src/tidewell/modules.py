"""Wiring: which modules a target runs, what each needs, and how each is built.

Like Mimir's ``modules.go``: every module has an init function and a list of
dependencies; a target is a set of modules. ``App`` initialises the closure of
the requested targets in dependency order, collects their HTTP routes into one
server, and hands the services to a ``ServiceManager``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import BaseRoute

from tidewell.api.server import HTTPServer, build_app
from tidewell.api.status import status_routes
from tidewell.config import Config
from tidewell.util.config_tree import ConfigError
from tidewell.util.services import Service, ServiceManager


@dataclass
class App:
    """The objects built for one process, by module name."""

    config: Config
    objects: dict[str, Any] = field(default_factory=dict)
    routes: list[BaseRoute] = field(default_factory=list)
    manager: ServiceManager = field(default_factory=ServiceManager)

    def add_service(self, name: str, service: Service) -> None:
        self.manager.add(name, service)


@dataclass(frozen=True)
class Module:
    deps: tuple[str, ...]
    init: Callable[[App], Any]
    user_visible: bool = True


def _init_server(app: App) -> Any:
    # Routes are collected from every module first; the app is built at the end
    # (see ``build``), so this only reserves the server's place in start order.
    return None


MODULES: dict[str, Module] = {
    "server": Module((), _init_server, user_visible=False),
}

TARGET_GROUPS: dict[str, tuple[str, ...]] = {
    "all": (),
}


def resolve(targets: list[str]) -> list[str]:
    """Modules to run, dependencies first."""
    wanted: list[str] = []
    for target in targets:
        wanted.extend(TARGET_GROUPS.get(target, (target,)) or ())
    order: list[str] = []

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in order:
            return
        if name not in MODULES:
            raise ConfigError(f"module {name!r} (from -target) is not available in this build")
        for dep in MODULES[name].deps:
            visit(dep, (*chain, name))
        order.append(name)

    visit("server", ())
    for name in wanted:
        visit(name, ())
    return order


def build(config: Config) -> App:
    app = App(config=config)
    for name in resolve(config.target):
        obj = MODULES[name].init(app)
        if obj is not None:
            app.objects[name] = obj
    routes = [*status_routes(config, app.manager), *app.routes]
    asgi = build_app(routes, multitenancy_enabled=config.multitenancy_enabled)
    # The server starts first so /ready can say 503 while the others start.
    app.manager.add("server", HTTPServer(asgi, config.server), first=True)
    return app
