"""The per-tenant metadata store: sets per family, limits, retention, query limits."""

from __future__ import annotations

from tests.support.metrics import metric_value
from tidewell.distributor.metrics import DISCARDED_METADATA
from tidewell.ingester.metadata import PER_METRIC_LIMIT, PER_USER_LIMIT, MetadataStore
from tidewell.model import MetricMetadata, MetricType

C = MetricType.COUNTER
G = MetricType.GAUGE


def md(name: str, type: MetricType = C, help: str = "h", unit: str = "") -> MetricMetadata:
    return MetricMetadata(name, type, help, unit)


def test_same_metadata_is_kept_once_and_variants_all_kept() -> None:
    s = MetadataStore("t")
    r = s.add([md("a_total"), md("a_total"), md("a_total", help="other"), md("b", G, unit="s")])
    assert (r.created, r.refreshed) == (3, 1)
    assert s.query() == [md("a_total"), md("a_total", help="other"), md("b", G, unit="s")]
    assert len(s) == 3 and s.num_metrics == 2


def test_query_limit_limit_per_metric_and_metric() -> None:
    s = MetadataStore("t")
    s.add([md("c"), md("a", help="2"), md("a", help="1"), md("b"), md("a", help="3")])
    assert [m.metric_family_name for m in s.query(limit=2)] == ["a", "a", "a", "b"]
    assert s.query(limit=0) == []
    assert s.query(limit_per_metric=1) == [md("a", help="1"), md("b"), md("c")]
    assert s.query(metric="a", limit_per_metric=2) == [md("a", help="1"), md("a", help="2")]
    assert s.query(metric="zzz") == []


def test_per_user_limit_refuses_new_families_and_counts() -> None:
    s = MetadataStore("lim-user", lambda: 2, lambda: 0)
    before = metric_value(DISCARDED_METADATA, user="lim-user", reason=PER_USER_LIMIT)
    r = s.add([md("a"), md("b"), md("c"), md("a", help="2")])
    assert (r.created, r.per_user_limited) == (3, 1)
    assert {m.metric_family_name for m in s.query()} == {"a", "b"}
    after = metric_value(DISCARDED_METADATA, user="lim-user", reason=PER_USER_LIMIT)
    assert after - before == 1


def test_per_metric_limit_refuses_new_variants_but_refreshes_known() -> None:
    s = MetadataStore("lim-metric", lambda: 0, lambda: 2)
    r = s.add([md("a", help="1"), md("a", help="2"), md("a", help="3"), md("a", help="1")])
    assert (r.created, r.per_metric_limited, r.refreshed) == (2, 1, 1)
    assert metric_value(DISCARDED_METADATA, user="lim-metric",
                                     reason=PER_METRIC_LIMIT) == 1


def test_metadata_not_seen_within_retain_period_is_forgotten() -> None:
    now = [1000.0]
    s = MetadataStore("t", retain_s=600, clock=lambda: now[0])
    s.add([md("old"), md("kept")])
    now[0] += 400
    s.add([md("kept")])
    now[0] += 300  # "old" last seen 700s ago, "kept" 300s ago
    assert s.query() == [md("kept")]
    assert len(s) == 1
