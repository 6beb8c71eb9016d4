"""Per-tenant TSDB registry and its state machine."""

from __future__ import annotations

from tidewell.ingester import TenantRegistry, TSDBState


def test_registry_creates_once_and_states_change_by_compare_and_swap() -> None:
    reg = TenantRegistry(block_range_ms=7_200_000)
    a, created = reg.get_or_create("t1")
    again, created_again = reg.get_or_create("t1")
    assert created and not created_again and a is again
    assert reg.get("nobody") is None and len(reg) == 1
    assert a.state is TSDBState.ACTIVE
    assert not a.cas_state(TSDBState.CLOSING, TSDBState.CLOSED)
    assert a.state is TSDBState.ACTIVE
    assert a.cas_state(TSDBState.ACTIVE, TSDBState.CLOSING)
    assert a.cas_state(TSDBState.CLOSING, TSDBState.CLOSED)
    assert a.state is TSDBState.CLOSED


def test_tenants_get_their_own_exemplar_and_metadata_stores_with_local_limits() -> None:
    from tidewell.ingester import StaticLimits
    from tidewell.ingester.limits import LocalLimits
    from tidewell.model import Exemplar, Labels, Matcher, MatchType, MetricMetadata, MetricType

    partitions = [4]
    limits = LocalLimits(StaticLimits(max_exemplars=8, max_metadata=8), lambda: partitions[0])
    reg = TenantRegistry(block_range_ms=7_200_000, limits=limits)
    a, _ = reg.get_or_create("a")
    b, _ = reg.get_or_create("b")
    series = Labels.from_dict({"__name__": "m", "job": "x"})
    # 8 across 4 partitions: this ingester keeps 2 per tenant.
    res = a.exemplars.add(series, [Exemplar(Labels(), float(i), i) for i in range(5)])
    assert res.appended == 5 and len(a.exemplars) == 2
    a.metadata.add([MetricMetadata("m", MetricType.GAUGE, "help a")])
    everything = [[Matcher(MatchType.EQUAL, "job", "x")]]
    assert [e.timestamp for _, exs in reg.exemplars("a", 0, 10, everything) for e in exs] == [3, 4]
    assert reg.exemplars("b", 0, 10, everything) == []
    assert reg.exemplars("nobody", 0, 10, everything) == []
    assert reg.metadata("a") == [MetricMetadata("m", MetricType.GAUGE, "help a")]
    assert reg.metadata("b") == [] and reg.metadata("nobody") == []
    partitions[0] = 1  # the limit follows the partition count
    b.exemplars.add(series, [Exemplar(Labels(), 0.0, i) for i in range(10)])
    assert len(b.exemplars) == 8


SERIES, ROUNDS, STEP = 40, 240, 15_000


def _split_tenant(tmp_path):
    """A tenant whose 40 series hold their first hour in a block, their second in the head
    (9,600 samples each part)."""
    import numpy as np

    from tidewell.model import Labels, SampleBatch
    from tidewell.tsdb.block import BlockReader, write_block
    from tidewell.tsdb.head import Head

    labels = [Labels([("__name__", "m"), ("i", f"{i:02d}")]) for i in range(SERIES)]
    ts = np.arange(ROUNDS, dtype=np.int64) * STEP
    path, _ = write_block(tmp_path, [(lb, ts, np.arange(ROUNDS, dtype=np.float64) + i)
                                     for i, lb in enumerate(labels)])
    head = Head()
    for r in range(ROUNDS, 2 * ROUNDS):
        head.append(SampleBatch(labels, np.arange(SERIES, dtype=np.int32),
                                np.full(SERIES, r * STEP, dtype=np.int64),
                                np.arange(SERIES, dtype=np.float64) + r))
    reg = TenantRegistry(block_range_ms=7_200_000)
    reg.put("t", head)
    tsdb = reg.get("t")
    assert tsdb is not None
    tsdb.add_blocks([BlockReader(path)])
    return tsdb


def test_head_and_blocks_share_the_samples_hint(tmp_path) -> None:
    """Each part alone fits the hint, both together do not: the block (asked second, for
    the room the head left) refuses before decoding and the error counts both parts."""
    import pytest

    from tidewell.model import Matcher, MatchType, SelectHints, SelectLimitError

    tsdb = _split_tenant(tmp_path)
    q = tsdb.querier(0, 2 * ROUNDS * STEP)
    part = SERIES * ROUNDS
    sel = [Matcher(MatchType.EQUAL, "__name__", "m")]
    got = q.select(sel, SelectHints(max_samples=2 * part))
    assert len(got) == SERIES and sum(len(s) for s in got) == 2 * part
    with pytest.raises(SelectLimitError) as err:
        q.select(sel, SelectHints(max_samples=part + 100))
    assert err.value.what == "samples" and err.value.limit == part + 100
    assert err.value.series == SERIES and part + 100 < err.value.samples <= 2 * part
    one = [*sel, Matcher(MatchType.EQUAL, "i", "07")]
    with pytest.raises(SelectLimitError) as err:  # one series in both parts is one series
        q.select(one, SelectHints(max_samples=ROUNDS + 10))
    assert err.value.series == 1


def test_query_over_head_and_blocks_runs_in_shards_under_the_limit(tmp_path) -> None:
    from tidewell.promql.context import EngineOptions
    from tidewell.promql.engine import Engine

    tsdb = _split_tenant(tmp_path)
    answered: list[int] = []  # samples each select handed out (decoded)

    class Tenant:
        def querier(self, tenant: str, mint: int, maxt: int):
            return self

        def select(self, matchers, hints=None):
            got = tsdb.querier(0, 2 * ROUNDS * STEP).select(matchers, hints)
            answered.append(sum(len(s) for s in got))
            return got

    query, end = "count_over_time(m[2h])", 2 * ROUNDS * STEP - 1
    whole = Engine(EngineOptions()).instant_query(Tenant(), "t", query, end, stats="all")
    limit = SERIES * ROUNDS + 100  # each part fits, the selection (19,200) does not
    sharded = Engine(EngineOptions(max_samples=limit)).instant_query(Tenant(), "t", query, end,
                                                                     stats="all")
    assert [(s.labels, s.vals.tolist()) for s in sharded.series] == \
        [(s.labels, s.vals.tolist()) for s in whole.series]
    assert [s.vals.tolist() for s in whole.series] == [[2.0 * ROUNDS]] * SERIES
    assert whole.stats.peak_samples > limit >= sharded.stats.peak_samples
    assert answered[0] == 2 * SERIES * ROUNDS  # the unlimited query
    assert len(answered) > 2 and max(answered[1:]) <= limit  # no select held both parts


def test_one_series_in_the_head_another_in_a_block_is_sharded(tmp_path) -> None:
    """The head answers ``m{i="a"}`` only, the block refuses having found one series,
    ``m{i="b"}``: two series (each hour fits 360 samples, both do not), answered shard by
    shard as Prometheus answers series by series, not selected whole and refused (422)."""
    import numpy as np

    from tidewell.model import Labels, SampleBatch
    from tidewell.promql.context import EngineOptions
    from tidewell.promql.engine import Engine
    from tidewell.tsdb.block import BlockReader, write_block
    from tidewell.tsdb.head import Head

    a, b = (Labels([("__name__", "m"), ("i", i)]) for i in "ab")
    path, _ = write_block(tmp_path, [(b, np.arange(ROUNDS, dtype=np.int64) * STEP,
                                      np.ones(ROUNDS))])
    head = Head()
    for r in range(ROUNDS, 2 * ROUNDS):
        head.append(SampleBatch([a], np.zeros(1, dtype=np.int32),
                                np.full(1, r * STEP, dtype=np.int64), np.ones(1)))
    reg = TenantRegistry(block_range_ms=7_200_000)
    reg.put("t", head)
    tsdb = reg.get("t")
    assert tsdb is not None
    tsdb.add_blocks([BlockReader(path)])

    class Tenant:
        def querier(self, tenant: str, mint: int, maxt: int):
            return tsdb.querier(mint, maxt)

    query, end, limit = "count_over_time(m[2h])", 2 * ROUNDS * STEP - 1, ROUNDS * 3 // 2
    whole = Engine(EngineOptions()).instant_query(Tenant(), "t", query, end, stats="all")
    sharded = Engine(EngineOptions(max_samples=limit)).instant_query(Tenant(), "t", query, end,
                                                                     stats="all")
    assert [(s.labels, s.vals.tolist()) for s in sharded.series] == \
        [(s.labels, s.vals.tolist()) for s in whole.series] == \
        [(Labels([("i", i)]), [float(ROUNDS)]) for i in "ab"]
    assert whole.stats.peak_samples > limit >= sharded.stats.peak_samples
