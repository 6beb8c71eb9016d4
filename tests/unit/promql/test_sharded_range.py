"""Range functions over selections past max-samples: answered in shards of the series, as
Prometheus answers them (it holds one series' window plus the output so far), with the same
values, order, errors and statistics as one unsharded evaluation."""

from __future__ import annotations

import threading

import httpx
import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from tidewell.api.prometheus import query_routes
from tidewell.model import Histogram, Labels, SampleBatch, SelectHints, SelectLimitError
from tidewell.model.matchers import Matcher, MatchType
from tidewell.promql.context import EngineOptions
from tidewell.promql.engine import Engine, QueryResult
from tidewell.promql.errors import ExecutionError, QueryCanceledError, TooManySamplesError
from tidewell.querier.config import QuerierConfig
from tidewell.querier.merge import MergeQueryable
from tidewell.tsdb.head import Head, HeadQuerier

SERIES, ROUNDS, STEP = 40, 240, 15_000  # 40 series x 1 h at 15 s: 9,600 samples
END = ROUNDS * STEP - 1
LIMIT = 1_000  # one series' hour (240) fits, the selection (9,600) does not
HSERIES = 8  # histogram series: 8 x 240 = 1,920 samples


class HeadQueryable:
    def __init__(self, head: Head) -> None:
        self.head = head
        self.selects = 0

    def querier(self, tenant: str, mint: int, maxt: int) -> HeadQuerier:
        self.selects += 1
        return HeadQuerier(self.head, mint, maxt)


def _hist(r: int, i: int) -> Histogram:
    c = float(r * (i + 1))
    return Histogram(schema=0, count=2 * c, sum=3 * c, positive_spans=((0, 2),),
                     positive_buckets=(c, c))


@pytest.fixture(scope="module")
def store() -> HeadQueryable:
    head = Head()
    rng = np.random.default_rng(7)
    floats = [Labels([("__name__", name), ("g", str(i % 3)), ("i", str(i))])
              for name in ("m_total", "n_total") for i in range(SERIES)]
    hists = [Labels([("__name__", "h"), ("i", str(i))]) for i in range(HSERIES)]
    big = Labels([("__name__", "big"), ("i", "0")])
    incs = rng.integers(0, 10, (ROUNDS, len(floats))).cumsum(axis=0).astype(np.float64)
    for r in range(ROUNDS):
        labels = [*floats, big, *hists]
        n = len(floats)
        head.append(SampleBatch(
            labels, np.arange(n + 1, dtype=np.int32),
            np.full(n + 1, r * STEP, dtype=np.int64), np.append(incs[r], float(r)),
            hist_series_index=np.arange(n + 1, n + 1 + HSERIES, dtype=np.int32),
            hist_timestamps=np.full(HSERIES, r * STEP, dtype=np.int64),
            histograms=[_hist(r, i) for i in range(HSERIES)]))
        head.append(SampleBatch([big], np.zeros(4, dtype=np.int32),  # big: 5 per 15 s
                                r * STEP + np.arange(1, 5, dtype=np.int64) * 3000,
                                np.full(4, float(r))))
        if r % 60 == 59:
            head.cut_chunks()
    return HeadQueryable(head)


def _rows(res: QueryResult) -> list[tuple]:
    return [(s.labels, s.ts.tolist(), s.vals.tolist(), s.hts.tolist(),
             [(h.count, h.sum, h.positive_buckets) for h in s.hists]) for s in res.series]


def _both(store: HeadQueryable, query: str, **kw: int) -> tuple[QueryResult, QueryResult]:
    """The query unsharded (a limit nothing reaches) and under ``LIMIT``."""
    def run(limit: int) -> QueryResult:
        eng = Engine(EngineOptions(max_samples=limit))
        if "step" in kw:
            return eng.range_query(store, "t", query, kw["start"], END, kw["step"], stats="all")
        return eng.instant_query(store, "t", query, END, stats="all")
    return run(50_000_000), run(LIMIT)


@pytest.mark.parametrize("query", [
    "count_over_time(m_total[1h])",
    "rate(m_total[1h])",
    "increase(m_total[1h])",
    "sum_over_time(m_total[1h])",
    "quantile_over_time(0.9, m_total[1h])",
    "predict_linear(m_total[1h], 600)",
    "last_over_time(m_total[1h])",
    "sum by (g) (rate(m_total[1h]))",
    "deriv(m_total[1h])",
    "rate(h[1h])",
    "histogram_count(rate(h[1h]))",
    "sum(increase(h[1h]))",
])
def test_selection_past_max_samples_is_answered_in_shards(store: HeadQueryable,
                                                          query: str) -> None:
    whole, sharded = _both(store, query)
    assert _rows(sharded) == _rows(whole) and sharded.series
    assert whole.stats.peak_samples > LIMIT >= sharded.stats.peak_samples
    w, s = whole.stats.json()["samples"], sharded.stats.json()["samples"]
    assert s["totalQueryableSamples"] == w["totalQueryableSamples"] > LIMIT
    assert s["totalQueryableSamplesPerStep"] == w["totalQueryableSamplesPerStep"]


def test_range_query_counts_output_so_far(store: HeadQueryable) -> None:
    whole, sharded = _both(store, "rate(m_total[10m])", start=END - 3_600_000 // 4,
                           step=60_000)
    assert _rows(sharded) == _rows(whole) and len(sharded.series) == SERIES
    s = sharded.stats.json()["samples"]
    assert s == {**whole.stats.json()["samples"], "peakSamples": s["peakSamples"]}
    assert s["peakSamples"] <= LIMIT


def test_outputs_past_max_samples_fail_as_in_prometheus(store: HeadQueryable) -> None:
    """40 series x 61 steps of output is more than 1,000 samples held at once."""
    with pytest.raises(TooManySamplesError):
        _both(store, "rate(m_total[5m])", start=END - 3_600_000, step=60_000)


def test_one_series_past_the_limit_still_fails(store: HeadQueryable) -> None:
    """``big`` holds 1,200 samples in its hour: one series' window alone passes 1,000."""
    Engine(EngineOptions(max_samples=1_300)).instant_query(store, "t", "count_over_time(big[1h])",
                                                           END)
    with pytest.raises(TooManySamplesError, match="too many samples into memory"):
        Engine(EngineOptions(max_samples=LIMIT)).instant_query(
            store, "t", "count_over_time(big[1h])", END)


def test_same_labelset_across_shards_fails_as_unsharded(store: HeadQueryable) -> None:
    """``m_total{i}`` and ``n_total{i}`` lose their names and collide: the rows of one pair
    sit in different shards, the query still fails with Prometheus's error."""
    query = 'rate({__name__=~"m_total|n_total"}[1h])'
    for limit in (50_000_000, LIMIT):
        with pytest.raises(ExecutionError, match="same labelset"):
            Engine(EngineOptions(max_samples=limit)).instant_query(store, "t", query, END)


def test_query_shard_matcher_is_split_further(store: HeadQueryable) -> None:
    """A selector already sharded by the query-frontend is sharded inside its own shard."""
    whole, sharded = _both(store, 'count_over_time(m_total{__query_shard__="1_of_2"}[1h])')
    assert _rows(sharded) == _rows(whole)
    assert 0 < len(sharded.series) < SERIES


def test_head_refuses_samples_past_the_hint_before_decoding(store: HeadQueryable) -> None:
    q = HeadQuerier(store.head, 0, END)
    with pytest.raises(SelectLimitError) as err:
        q.select([Matcher(MatchType.EQUAL, "__name__", "m_total")], SelectHints(max_samples=LIMIT))
    assert err.value.what == "samples" and err.value.series == SERIES
    assert LIMIT < err.value.samples <= SERIES * ROUNDS


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_http_query_answers_where_the_selection_passes_max_samples(
        store: HeadQueryable, anyio_backend: str) -> None:
    """Through the query API with ``-querier.max-samples=1000``: 200 and the counts (this
    query answered 422 "too many samples" while the whole selection was held at once)."""
    app = Starlette(routes=[Mount("/prometheus", routes=query_routes(
        store, QuerierConfig(max_samples=LIMIT)))])  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://t") as client:
        r = await client.get("/prometheus/api/v1/query",
                             params={"query": "count_over_time(m_total[1h])",
                                     "time": END / 1000})
        assert r.status_code == 200, r.text
        result = r.json()["data"]["result"]
        assert len(result) == SERIES and {p["value"][1] for p in result} == {str(ROUNDS)}
        r = await client.get("/prometheus/api/v1/query",
                             params={"query": "count_over_time(big[1h])", "time": END / 1000})
        assert r.status_code == 422 and "too many samples" in r.json()["error"]


def test_memory_limit_is_met_shard_by_shard(store: HeadQueryable) -> None:
    """The whole selection (a bare range vector is selected at once) needs more than
    200 kB as the budget counts it; shards of it, each released before the next, fit."""
    query = "count_over_time(m_total[1h])"
    whole = Engine().instant_query(store, "t", query, END)
    with pytest.raises(ExecutionError, match="estimated amount of memory"):
        Engine(EngineOptions(max_memory_bytes=200_000)).instant_query(store, "t", "m_total[1h]",
                                                                      END)
    got = Engine(EngineOptions(max_memory_bytes=200_000)).instant_query(store, "t", query, END)
    assert _rows(got) == _rows(whole)


@pytest.mark.parametrize("query", ['rate({__name__=~"m_total|n_total"}[1h])',
                                   'last_over_time({__name__=~"m_total|n_total"}[1h])'])
def test_delayed_name_removal_sees_the_whole_result(store: HeadQueryable, query: str) -> None:
    """With delayed name removal names go when the result is shaped: sharded or not, the
    same rows (``last_over_time`` keeps names) or the same error (``rate`` drops them)."""
    def run(limit: int) -> object:
        try:
            return _rows(Engine(EngineOptions(max_samples=limit, delayed_name_removal=True))
                         .instant_query(store, "t", query, END))
        except ExecutionError as exc:
            return str(exc)
    whole = run(50_000_000)
    assert run(LIMIT) == whole
    assert (whole == "vector cannot contain metrics with the same labelset") == \
        query.startswith("rate")


def test_cancel_is_seen_between_shards(store: HeadQueryable) -> None:
    """The query is canceled while its third shard is being selected: it stops there."""
    cancel = threading.Event()

    class Canceling(HeadQueryable):
        def querier(self, tenant: str, mint: int, maxt: int) -> HeadQuerier:
            if self.selects == 3:
                cancel.set()
            return super().querier(tenant, mint, maxt)

    q = Canceling(store.head)
    with pytest.raises(QueryCanceledError):
        Engine(EngineOptions(max_samples=LIMIT)).instant_query(
            q, "t", "count_over_time(m_total[1h])", END, cancel=cancel)
    assert q.selects == 4  # the refused whole selection, then three shards of about twenty


def _part(series: list[str], rounds: range) -> HeadQueryable:
    """A head holding ``u{i}`` for each of ``series``, one sample per 15 s over ``rounds``."""
    head = Head()
    labels = [Labels([("__name__", "u"), ("i", i)]) for i in series]
    index = np.arange(len(labels), dtype=np.int32)
    for r in rounds:
        head.append(SampleBatch(labels, index, np.full(len(labels), r * STEP, dtype=np.int64),
                                np.full(len(labels), float(r))))
    head.cut_chunks()  # counted before decoding, as a block's chunks
    return HeadQueryable(head)


def test_parts_holding_different_single_series_are_sharded() -> None:
    """The head part answers ``u{i="a"}`` only and the block part (time-split: a series may
    be in both) refuses having found one series, ``u{i="b"}``: two series, each hour under
    the limit, both over it. Counted as one, the pair was selected whole (422); counted as
    two they are answered shard by shard, as Prometheus answers series by series."""
    parts = MergeQueryable([_part(["a"], range(ROUNDS)), _part(["b"], range(ROUNDS))])
    limit = ROUNDS * 5 // 3  # 400: one series' 240 samples fit, the pair's 480 do not
    query = "count_over_time(u[1h])"
    whole = Engine(EngineOptions(max_samples=50_000_000)).instant_query(
        parts, "t", query, END, stats="all")
    sharded = Engine(EngineOptions(max_samples=limit)).instant_query(
        parts, "t", query, END, stats="all")
    assert _rows(sharded) == _rows(whole) and len(whole.series) == 2
    assert whole.stats.peak_samples > limit >= sharded.stats.peak_samples
    w, s = whole.stats.json()["samples"], sharded.stats.json()["samples"]
    assert s["totalQueryableSamples"] == w["totalQueryableSamples"] == 2 * ROUNDS


@pytest.mark.parametrize("disjoint", [False, True])
def test_one_series_spanning_parts_past_the_limit_still_fails(disjoint: bool) -> None:
    """``u{i="a"}``'s older half in the block part, its newer half in the head part (or,
    ``disjoint``, moved between partitions): one series whose hour (240 samples) passes
    200 fails as in Prometheus after one refused select, not ~40 rounds of shards; fits
    300."""
    half = ROUNDS // 2
    older, newer = _part(["a"], range(half)), _part(["a"], range(half, ROUNDS))
    parts = MergeQueryable([newer, older], disjoint=disjoint)
    query = "count_over_time(u[1h])"
    got = Engine(EngineOptions(max_samples=300)).instant_query(parts, "t", query, END)
    assert [s.vals.tolist() for s in got.series] == [[float(ROUNDS)]]
    newer.selects = older.selects = 0
    with pytest.raises(TooManySamplesError, match="too many samples into memory"):
        Engine(EngineOptions(max_samples=200)).instant_query(parts, "t", query, END)
    assert newer.selects == older.selects == 2  # the refused select, then the series whole
