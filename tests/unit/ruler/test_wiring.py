"""-target=ruler: where it sits in the targets, and what it refuses to start without."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tidewell.config import load
from tidewell.modules import build, resolve
from tidewell.util.config_tree import ConfigError


def test_ruler_is_in_all_and_backend_and_built_after_the_frontend() -> None:
    order = resolve(["all"])
    assert order[-1] == "ruler" and order.index("query-frontend") < order.index("ruler")
    assert "ruler" in resolve(["backend"])
    assert {"distributor", "ruler"} <= set(resolve(["ruler"]))


def test_ruler_alone_needs_a_query_frontend_address(tmp_path: Path) -> None:
    config = load([f"-common.storage.path={tmp_path}", "-target=ruler"]).config
    with pytest.raises(ConfigError, match=r"-ruler\.query-frontend\.address"):
        asyncio.run(build(config))


def test_bad_ruler_urls_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must start with http"):
        load([f"-common.storage.path={tmp_path}", "-ruler.alertmanager-url=am:9093"])


@pytest.mark.parametrize("target", ["ruler", "backend"])
def test_ruler_without_the_store_refuses_an_in_memory_ring(tmp_path: Path, target: str) -> None:
    """Several such processes would each own every group: refused at startup."""
    config = load([f"-common.storage.path={tmp_path}", f"-target={target}",
                   "-ruler.query-frontend.address=http://127.0.0.1:1",
                   "-ingest-storage.kafka.address=127.0.0.1:1"]).config
    with pytest.raises(ConfigError, match=r"-ruler\.ring\.store=inmemory cannot be shared.*"
                                          r"-ruler\.ring\.store=etcd"):
        asyncio.run(build(config))
