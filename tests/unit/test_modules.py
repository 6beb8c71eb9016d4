"""Targets resolve to modules in dependency order; impossible combinations fail clearly."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tidewell.config import load
from tidewell.modules import build, resolve
from tidewell.util.config_tree import ConfigError


def test_all_runs_every_available_component_dependencies_first() -> None:
    order = resolve(["all"])
    assert set(order) >= {"distributor", "ingester", "querier", "query-frontend", "ingest-log"}
    for before, after in [("ingest-log", "distributor"), ("partition-ring", "ingester"),
                          ("ingester", "querier"), ("querier", "query-frontend"),
                          ("overrides", "distributor")]:
        assert order.index(before) < order.index(after)


def test_frontend_is_built_after_an_in_process_querier() -> None:
    order = resolve(["query-frontend", "querier"])
    assert order.index("querier") < order.index("query-frontend")


def test_comma_separated_targets_union() -> None:
    assert set(resolve(["distributor", "ingester"])) == set(resolve(["write"]))


def test_separate_distributor_on_embedded_log_is_refused(tmp_path: Path) -> None:
    config = load([f"-common.storage.path={tmp_path}", "-target=distributor"]).config
    with pytest.raises(ConfigError, match=r"needs -ingest-storage\.kafka\.address"):
        asyncio.run(build(config))
