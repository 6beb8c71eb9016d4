"""The root configuration tree: every component's config, assembled in one place.

Each component declares its own settings beside its code; this module only
nests them the way Mimir's YAML nests them, and loads a YAML file plus flags
on top (flags win). Every problem becomes one ``ConfigError`` line naming the
setting and what is allowed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tidewell.api.config import ServerConfig
from tidewell.compactor.config import CompactorConfig
from tidewell.distributor.config import DistributorConfig
from tidewell.distributor.limits import EMBEDDED_DEFAULTS, Limits, RuntimeConfigConfig
from tidewell.frontend.config import FrontendConfig
from tidewell.ingest.config import IngestStorageConfig
from tidewell.ingester.config import IngesterConfig
from tidewell.model.tenant import InvalidTenantIDError, validate_tenant_id
from tidewell.objstore.config import BucketConfig
from tidewell.querier.config import QuerierConfig
from tidewell.ruler.config import RulerConfig, RulerStorageConfig
from tidewell.storegateway.config import BucketStoreConfig
from tidewell.storegateway.ring_config import StoreGatewayConfig
from tidewell.tsdb.config import TSDBConfig
from tidewell.util.config_fields import setting
from tidewell.util.config_tree import (
    ConfigError,
    Leaf,
    apply_yaml,
    convert,
    flag_string,
    iter_leaves,
    set_path,
)

TARGETS = (
    "all",
    "write",
    "read",
    "backend",
    "distributor",
    "ingester",
    "querier",
    "query-frontend",
    "store-gateway",
    "compactor",
    "ruler",
)


@dataclass
class CommonStorageConfig:
    path: str = field(
        default="./tidewell-data",
        metadata=setting("Directory holding all local state (log, TSDB, bucket)."),
    )


@dataclass
class CommonConfig:
    storage: CommonStorageConfig = field(default_factory=CommonStorageConfig)


@dataclass
class BlocksStorageConfig(BucketConfig):
    """Mimir's ``blocks_storage``: the bucket, the ingesters' TSDB, the store-gateways' reads."""

    tsdb: TSDBConfig = field(default_factory=TSDBConfig)
    bucket_store: BucketStoreConfig = field(default_factory=BucketStoreConfig)


@dataclass
class Config:
    target: list[str] = field(
        default_factory=lambda: ["all"],
        metadata=setting(
            "Comma-separated list of components to run.", kind="list", choices=TARGETS
        ),
    )
    multitenancy_enabled: bool = field(
        default=True,
        metadata=setting(
            "Require X-Scope-OrgID on every request; when false, all data goes to "
            "the tenant of -auth.no-auth-tenant.",
            flag="auth.multitenancy-enabled",
        ),
    )
    no_auth_tenant: str = field(
        default="anonymous",
        metadata=setting(
            "Tenant ID to use when multitenancy is disabled.", flag="auth.no-auth-tenant"
        ),
    )
    server: ServerConfig = field(default_factory=ServerConfig)
    common: CommonConfig = field(default_factory=CommonConfig)
    distributor: DistributorConfig = field(default_factory=DistributorConfig)
    ingester: IngesterConfig = field(default_factory=IngesterConfig)
    ingest_storage: IngestStorageConfig = field(default_factory=IngestStorageConfig)
    blocks_storage: BlocksStorageConfig = field(default_factory=BlocksStorageConfig)
    store_gateway: StoreGatewayConfig = field(default_factory=StoreGatewayConfig)
    compactor: CompactorConfig = field(default_factory=CompactorConfig)
    querier: QuerierConfig = field(default_factory=QuerierConfig)
    frontend: FrontendConfig = field(default_factory=FrontendConfig)
    ruler: RulerConfig = field(default_factory=RulerConfig)
    ruler_storage: RulerStorageConfig = field(default_factory=RulerStorageConfig)
    limits: Limits = field(default_factory=Limits)
    runtime_config: RuntimeConfigConfig = field(default_factory=RuntimeConfigConfig)

    @property
    def data_dir(self) -> Path:
        return Path(self.common.storage.path)


# Flags handled by the loader itself rather than the tree.
_META_FLAGS = {
    "config.file": "Configuration file to load.",
    "config.expand-env": "Expand ${VAR} and ${VAR:default} in the config file from the "
    "environment.",
    "help": "Print basic help and exit.",
    "version": "Print the version and exit.",
}
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")


@dataclass
class LoadResult:
    config: Config
    config_file: str | None
    show_help: bool = False
    show_version: bool = False


def leaves() -> list[Leaf]:
    return list(iter_leaves(Config))


def duplicate_flags() -> list[str]:
    """Flags declared by more than one setting (a wiring mistake, caught by a test)."""
    seen: set[str] = set()
    return sorted({lf.flag for lf in leaves() if lf.flag in seen or seen.add(lf.flag)})


def _split_args(argv: list[str]) -> list[tuple[str, str | None, str]]:
    """``-a=b``, ``--a=b``, ``-a b`` and bare booleans → ``(name, value, original)``."""
    bool_flags = {lf.flag for lf in leaves() if lf.type is bool} | {
        "config.expand-env",
        "help",
        "h",
        "version",
    }
    out: list[tuple[str, str | None, str]] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") or arg in ("-", "--"):
            raise ConfigError(f"unexpected argument {arg!r}: flags look like -name=value")
        body = arg[2:] if arg.startswith("--") else arg[1:]
        if "=" in body:
            name, value = body.split("=", 1)
            out.append((name, value, arg))
        elif body in bool_flags:
            out.append((body, None, arg))
        elif i + 1 < len(argv):
            out.append((body, argv[i + 1], arg))
            i += 1
        else:
            out.append((body, None, arg))
        i += 1
    return out


def _read_yaml(path: str, expand_env: bool) -> dict[str, Any]:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read -config.file {path!r}: {exc.strerror}") from None
    if expand_env:
        text = _ENV_REF.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), text)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"config file {path!r} is not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path!r} must hold a YAML mapping at the top level")
    return data


def load(argv: list[str]) -> LoadResult:
    """Build the effective config from ``argv``: defaults, then the YAML file, then flags."""
    args = _split_args(argv)
    by_flag = {lf.flag: lf for lf in leaves()}
    result = LoadResult(config=Config(), config_file=None)
    expand_env = False
    tree_args: list[tuple[Leaf, str | None, str]] = []
    for name, value, original in args:
        if name in ("help", "h"):
            result.show_help = True
        elif name == "version":
            result.show_version = True
        elif name == "config.file":
            if not value:
                raise ConfigError("flag -config.file needs a value")
            result.config_file = value
        elif name == "config.expand-env":
            expand_env = value is None or value.lower() in ("true", "1")
        elif name in by_flag:
            tree_args.append((by_flag[name], value, original))
        else:
            raise ConfigError(
                f"flag provided but not defined: -{name} (run 'tidewell -help' for the list)"
            )
    if result.show_help or result.show_version:
        return result
    data: dict[str, Any] = {}
    if result.config_file:
        data = _read_yaml(result.config_file, expand_env)
        apply_yaml(result.config, data)
    for leaf, value, _original in tree_args:
        raw: Any = value
        if value is None:
            if leaf.type is not bool:
                raise ConfigError(f"flag -{leaf.flag} needs a value")
            raw = True
        set_path(result.config, leaf.path, convert(leaf, raw, f"flag -{leaf.flag}"))
    given = {leaf.path for leaf, _, _ in tree_args} | _yaml_paths(data)
    _apply_embedded_defaults(result.config, given)
    validate(result.config)
    return result


def _yaml_paths(data: Any, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Paths of the settings a YAML mapping gives."""
    if not isinstance(data, dict):
        return {path}
    out: set[tuple[str, ...]] = set()
    for key, value in data.items():
        out |= _yaml_paths(value, (*path, str(key)))
    return out


def _apply_embedded_defaults(config: Config, given: set[tuple[str, ...]]) -> None:
    """On the embedded log, the one-process defaults for limits nobody set
    (``EMBEDDED_DEFAULTS``: why Mimir's would lose a newcomer's data there)."""
    if config.ingest_storage.backend != "embedded":
        return
    for name, value in EMBEDDED_DEFAULTS.items():
        if ("limits", name) not in given:
            setattr(config.limits, name, value)


def validate(config: Config) -> None:
    """Cross-setting checks; each component's own ``validate()`` runs here too."""
    port = config.server.http_listen_port
    if not 0 <= port <= 65535:
        raise ConfigError(
            f"invalid value {port} for -server.http-listen-port: must be between 0 and 65535"
        )
    try:
        validate_tenant_id(config.no_auth_tenant)
    except InvalidTenantIDError as exc:
        raise ConfigError(f"invalid value for -auth.no-auth-tenant: {exc}") from None
    for section in _sections(config):
        check = getattr(section, "validate", None)
        if callable(check):
            try:
                check()
            except ValueError as exc:
                raise ConfigError(str(exc)) from None


def _sections(node: Any) -> list[Any]:
    """Every nested config dataclass under ``node``, children before their parents."""
    out: list[Any] = []
    for name in vars(node):
        child = getattr(node, name)
        if hasattr(child, "__dataclass_fields__"):
            out.extend(_sections(child))
            out.append(child)
    return out


def help_text() -> str:
    lines = ["Usage of tidewell:"]
    for flag, text in _META_FLAGS.items():
        lines.append(f"  -{flag}\n    \t{text}")
    for leaf in leaves():
        shown = flag_string(leaf, leaf.default)
        allowed = f" Allowed values: {', '.join(leaf.choices)}." if leaf.choices else ""
        lines.append(f"  -{leaf.flag} value\n    \t{leaf.help}{allowed} (default {shown!r})")
    return "\n".join(lines)
