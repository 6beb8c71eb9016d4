"""Cardinality counts of real heads: exact numbers for data of a known shape."""

from __future__ import annotations

import time

import pytest

from tests.support.ingester import make_batch
from tidewell.ingester import TenantRegistry
from tidewell.ingester.cardinality import (
    ResultTooLargeError,
    active_series,
    label_stats,
)
from tidewell.model import Labels, Matcher, MatchType

NOW = int(time.time() * 1000)
HOUR = 3_600_000


def shaped(now: int = NOW) -> TenantRegistry:
    """Written at ``now``: tenant a: 12 http_requests_total series (4 methods x 3 codes)
    and 2 ``up``, the ``db`` one last written an hour ago; tenant b: one series of its own."""
    reg = TenantRegistry(2 * HOUR)
    samples = []
    for method in ("GET", "POST", "PUT", "DELETE"):
        for code in ("200", "404", "500"):
            ls = Labels.from_dict({"__name__": "http_requests_total", "job": "api",
                                   "method": method, "code": code})
            samples += [(ls, now - 30_000, 1.0), (ls, now, 2.0)]
    samples.append((Labels.from_dict({"__name__": "up", "job": "api"}), now, 1.0))
    samples.append((Labels.from_dict({"__name__": "up", "job": "db"}), now - HOUR, 1.0))
    a, _ = reg.get_or_create("a")
    a.head.append(make_batch(samples))
    b, _ = reg.get_or_create("b")
    b.head.append(make_batch([(Labels.from_dict({"__name__": "secret", "job": "x"}), now, 1)]))
    return reg


def test_counts_per_label_name_and_value() -> None:
    st = label_stats(shaped(), "a", [])
    assert st.series == 14
    assert st.pairs == {
        "__name__": {"http_requests_total": 12, "up": 2},
        "code": {"200": 4, "404": 4, "500": 4},
        "job": {"api": 13, "db": 1},
        "method": {"DELETE": 3, "GET": 3, "POST": 3, "PUT": 3},
    }
    assert st.head.num_series == 14
    assert st.head.min_time == NOW - HOUR and st.head.max_time == NOW


def test_selector_names_and_active() -> None:
    reg = shaped()
    st = label_stats(reg, "a", [Matcher(MatchType.REGEX, "method", "GET|PUT"),
                                Matcher(MatchType.NOT_EQUAL, "code", "500")])
    assert st.series == 4
    assert st.pairs["method"] == {"GET": 2, "PUT": 2}
    assert st.pairs["code"] == {"200": 2, "404": 2}
    assert st.pairs["job"] == {"api": 4}
    st = label_stats(reg, "a", [], names=["job", "nope"])
    assert st.pairs == {"job": {"api": 13, "db": 1}}
    # Active: newest sample within the idle timeout (10 minutes here).
    st = label_stats(reg, "a", [], active_since=NOW - 600_000)
    assert st.series == 13 and st.pairs["job"] == {"api": 13}
    assert st.pairs["__name__"] == {"http_requests_total": 12, "up": 1}
    assert active_series(reg, "a", [Matcher(MatchType.EQUAL, "__name__", "up")],
                         active_since=NOW - 600_000) == [
        Labels.from_dict({"__name__": "up", "job": "api"})]


def test_tenants_are_apart_and_unknown_tenants_empty() -> None:
    reg = shaped()
    assert label_stats(reg, "b", []).pairs == {"__name__": {"secret": 1}, "job": {"x": 1}}
    assert label_stats(reg, "nobody", []).series == 0
    assert active_series(reg, "nobody", [], active_since=0) == []


def test_removed_series_are_not_counted() -> None:
    reg = shaped()
    head = reg.get("a").head  # type: ignore[union-attr]
    assert head.truncate(NOW - HOUR + 1) == 1  # up{job="db"} had only the old sample
    st = label_stats(reg, "a", [])
    assert st.series == 13 and st.pairs["job"] == {"api": 13}
    st = label_stats(reg, "a", [Matcher(MatchType.NOT_EQUAL, "job", "api")])
    assert st.series == 0 and st.pairs == {}


def test_size_limits() -> None:
    reg = shaped()
    with pytest.raises(ResultTooLargeError, match="greater than 20 bytes"):
        label_stats(reg, "a", [], max_bytes=20)
    with pytest.raises(ResultTooLargeError, match="active-series-results-max-size-bytes"):
        active_series(reg, "a", [], active_since=0, max_bytes=100)
    assert len(active_series(reg, "a", [], active_since=0, max_bytes=10_000)) == 14


def test_many_series_few_values_counted_from_postings() -> None:
    """300 series, asked about ``job`` (3 values): counting its postings lists is the
    cheaper way here (the other calls take the label-set way); both count exactly."""
    reg = TenantRegistry(2 * HOUR)
    t, _ = reg.get_or_create("a")
    series = [Labels.from_dict({"__name__": "m", "job": "abc"[i % 3], "i": str(i)})
              for i in range(300)]
    t.head.append(make_batch([(s, NOW - HOUR if k < 30 else NOW, 1.0)
                              for k, s in enumerate(series)]))  # 10 old series per job
    whole = label_stats(reg, "a", [])
    assert whole.pairs["job"] == {"a": 100, "b": 100, "c": 100}
    assert label_stats(reg, "a", [], names=["job"]).pairs == {"job": whole.pairs["job"]}
    st = label_stats(reg, "a", [Matcher(MatchType.NOT_EQUAL, "job", "c")], names=["job"])
    assert st.series == 200 and st.pairs == {"job": {"a": 100, "b": 100}}
    st = label_stats(reg, "a", [], active_since=NOW - 600_000, names=["job"])
    assert st.series == 270 and st.pairs == {"job": {"a": 90, "b": 90, "c": 90}}
