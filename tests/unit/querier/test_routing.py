"""Time routing: which of ingesters and store-gateways a query asks, at a fixed ``now``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support.memory import DictQuerier
from tidewell.config import load
from tidewell.model import Labels, Matcher
from tidewell.querier.config import (
    ErrBadLookbackConfigs,
    ErrInvalidQueryTimeRouting,
    QuerierConfig,
)
from tidewell.querier.routing import Route, TimeRoutedQueryable, route
from tidewell.util.config_tree import ConfigError

H = 3_600_000
NOW = 1_800_000_000_000  # ms
DEFAULTS = {"query_ingesters_within_s": 13 * 3600.0, "query_store_after_s": 12 * 3600.0}


@pytest.mark.parametrize(("mint", "maxt", "want"), [
    # Recent data only: ingesters alone.
    (NOW - H, NOW, Route(True, None)),
    (NOW - 12 * H + 1, NOW, Route(True, None)),
    # Starts before now-12h: the store is asked too, up to now-12h only.
    (NOW - 12 * H, NOW, Route(True, (NOW - 12 * H, NOW - 12 * H))),
    (NOW - 48 * H, NOW, Route(True, (NOW - 48 * H, NOW - 12 * H))),
    # Ends before now-13h: the store alone, its range untouched.
    (NOW - 48 * H, NOW - 13 * H - 1, Route(False, (NOW - 48 * H, NOW - 13 * H - 1))),
    (NOW - 48 * H, NOW - 13 * H, Route(True, (NOW - 48 * H, NOW - 13 * H))),
])
def test_route_with_mimir_defaults(mint: int, maxt: int, want: Route) -> None:
    assert route(mint, maxt, NOW, **DEFAULTS) == want


def test_zero_disables_each_rule() -> None:
    old = (NOW - 48 * H, NOW - 40 * H)
    recent = (NOW - H, NOW)
    assert route(*old, NOW, query_ingesters_within_s=0, query_store_after_s=12 * 3600) == Route(
        True, old)
    assert route(*recent, NOW, query_ingesters_within_s=13 * 3600, query_store_after_s=0) == (
        Route(True, recent))


class Recording:
    """A ``Queryable`` over fixed samples that records the ranges it was asked for."""

    def __init__(self, ts: list[int]) -> None:
        ts_arr = np.asarray(ts, dtype=np.int64)
        self.data = {Labels.from_dict({"__name__": "m"}): (ts_arr, ts_arr.astype(np.float64))}
        self.asked: list[tuple[int, int]] = []

    def querier(self, tenant: str, mint: int, maxt: int) -> DictQuerier:
        self.asked.append((mint, maxt))
        return DictQuerier(self.data, mint, maxt)


def test_routed_queryable_asks_each_source_for_its_part_and_merges() -> None:
    ingesters = Recording([NOW - 13 * H, NOW - 2 * H, NOW - H])  # head and local blocks
    store = Recording([NOW - 30 * H, NOW - 13 * H, NOW - 2 * H])  # shipped blocks
    q = TimeRoutedQueryable(ingesters, store, **DEFAULTS, clock=lambda: NOW / 1000)
    got = q.querier("t", NOW - 48 * H, NOW).select([Matcher.equal("__name__", "m")])
    assert ingesters.asked == [(NOW - 48 * H, NOW)]
    assert store.asked == [(NOW - 48 * H, NOW - 12 * H)]  # the newest 12h: ingesters only
    assert got[0].timestamps.tolist() == [NOW - 30 * H, NOW - 13 * H, NOW - 2 * H, NOW - H]

    ingesters.asked.clear()
    store.asked.clear()
    q.querier("t", NOW - 3 * H, NOW).select([])
    assert (ingesters.asked, store.asked) == ([(NOW - 3 * H, NOW)], [])
    q.querier("t", NOW - 48 * H, NOW - 20 * H).label_names()
    assert (ingesters.asked, store.asked[-1:]) == ([(NOW - 3 * H, NOW)],
                                                   [(NOW - 48 * H, NOW - 20 * H)])


def test_flags_yaml_and_validation(tmp_path: Path) -> None:
    config = load(["-querier.query-ingesters-within=2h", "-querier.query-store-after=1h"]).config
    assert (config.querier.query_ingesters_within, config.querier.query_store_after) == (
        7200.0, 3600.0)
    path = tmp_path / "tidewell.yaml"
    path.write_text("querier:\n  query_ingesters_within: 0s\n  query_store_after: 30m\n")
    config = load([f"-config.file={path}"]).config
    assert (config.querier.query_ingesters_within, config.querier.query_store_after) == (
        0.0, 1800.0)
    with pytest.raises(ConfigError, match=r"must be greater than -querier\.query-store-after"):
        load(["-querier.query-ingesters-within=1h", "-querier.query-store-after=2h"])
    assert (QuerierConfig().query_ingesters_within, QuerierConfig().query_store_after) == (
        13 * 3600.0, 12 * 3600.0)
    with pytest.raises(ErrBadLookbackConfigs, match="query-ingesters-within"):
        QuerierConfig(query_ingesters_within=3600, query_store_after=3600).validate()
    with pytest.raises(ErrInvalidQueryTimeRouting, match="query-store-after"):
        QuerierConfig(query_store_after=-1).validate()
    QuerierConfig(query_ingesters_within=0, query_store_after=3600).validate()  # 0: disabled
    QuerierConfig(query_ingesters_within=3600, query_store_after=0).validate()
