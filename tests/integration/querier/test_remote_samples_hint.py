"""The samples hint over the internal HTTP wire: a remote head refuses a select past
``max_samples`` before decoding it, the querier gets ``SelectLimitError("samples")`` with
what the remote found, and a range function is answered in shards, no select holding
more than the limit (real uvicorn servers on loopback serving real heads)."""

from __future__ import annotations

import pytest

from tests.support.heads import scraped_head
from tidewell.model import Matcher, MatchType, SelectHints, SelectLimitError
from tidewell.promql.context import EngineOptions
from tidewell.promql.engine import Engine, QueryResult
from tidewell.querier.merge import MergeQueryable
from tidewell.querier.remote import RemoteQueryable
from tidewell.tsdb.head import HeadQuerier

from .conftest import internal_app

pytestmark = pytest.mark.timeout(60)
SERIES, ROUNDS, STEP = 40, 240, 15_000  # 9,600 samples
END = ROUNDS * STEP - 1
LIMIT = 1_000  # one series' hour (240) fits, the selection does not
SEL = [Matcher(MatchType.EQUAL, "__name__", "m")]


class RecordingHead:
    """Serves a head; records each select as ("refused", found samples) or
    ("answered", samples sent)."""

    def __init__(self, series: range) -> None:
        self.head = scraped_head(series, ROUNDS, STEP)
        self.log: list[tuple[str, int]] = []

    def querier(self, tenant: str, mint: int, maxt: int) -> RecordingHead.Querier:
        return RecordingHead.Querier(self, HeadQuerier(self.head, mint, maxt))

    class Querier:
        def __init__(self, owner: RecordingHead, q: HeadQuerier) -> None:
            self.owner, self.q = owner, q

        def select(self, matchers, hints=None):
            try:
                got = self.q.select(matchers, hints)
            except SelectLimitError as exc:
                self.owner.log.append(("refused", exc.samples))
                raise
            self.owner.log.append(("answered", sum(len(s) for s in got)))
            return got


def _rows(res: QueryResult) -> list[tuple]:
    return [(s.labels, s.vals.tolist()) for s in res.series]


def test_remote_head_refuses_past_the_hint_with_what_it_found(serve) -> None:
    source = RecordingHead(range(SERIES))
    srv = serve(internal_app(source))
    with RemoteQueryable(srv.url, timeout_s=30) as remote:
        with pytest.raises(SelectLimitError) as err:
            remote.querier("t", 0, END).select(SEL, SelectHints(max_samples=LIMIT))
        assert err.value.what == "samples" and err.value.limit == LIMIT
        assert err.value.series == SERIES and LIMIT < err.value.samples <= SERIES * ROUNDS
        assert source.log == [("refused", err.value.samples)]  # nothing decoded or sent
        got = remote.querier("t", 0, END).select(SEL, SelectHints(max_samples=SERIES * ROUNDS))
    assert len(got) == SERIES and source.log[-1] == ("answered", SERIES * ROUNDS)


def test_range_function_over_a_remote_source_runs_in_shards(serve) -> None:
    source = RecordingHead(range(SERIES))
    srv = serve(internal_app(source))
    query = "count_over_time(m[1h])"
    with RemoteQueryable(srv.url, timeout_s=30) as remote:
        whole = Engine(EngineOptions()).instant_query(remote, "t", query, END, stats="all")
        source.log.clear()
        sharded = Engine(EngineOptions(max_samples=LIMIT)).instant_query(
            remote, "t", query, END, stats="all")
    assert _rows(sharded) == _rows(whole) and len(whole.series) == SERIES
    assert whole.stats.peak_samples > LIMIT >= sharded.stats.peak_samples
    assert source.log[0][0] == "refused"  # the unsharded selection never crossed the wire
    sent = [n for what, n in source.log if what == "answered"]
    assert sum(sent) == SERIES * ROUNDS and max(sent) <= LIMIT


def test_partitions_share_the_hint_over_the_wire(serve) -> None:
    """Two remote partitions, each under the limit, together over it: the second is asked
    for the room the first left and refuses before decoding; the query still answers."""
    a, b = RecordingHead(range(0, SERIES, 2)), RecordingHead(range(1, SERIES, 2))
    srv_a, srv_b = serve(internal_app(a)), serve(internal_app(b))
    with RemoteQueryable(srv_a.url) as ra, RemoteQueryable(srv_b.url) as rb:
        both = MergeQueryable([ra, rb], disjoint=True)  # as partitions
        half = SERIES // 2 * ROUNDS
        with pytest.raises(SelectLimitError) as err:
            both.querier("t", 0, END).select(SEL, SelectHints(max_samples=half + 100))
        assert a.log == [("answered", half)] and b.log[0][0] == "refused"
        assert err.value.series == SERIES and err.value.samples > half + 100
        for query in ("count_over_time(m[1h])", 'count_over_time(m{i=~"00|01"}[1h])'):
            # the second: one series in each partition, each fits, both do not
            whole = Engine(EngineOptions()).instant_query(both, "t", query, END)
            sharded = Engine(EngineOptions(max_samples=ROUNDS + 60)).instant_query(
                both, "t", query, END)
            assert _rows(sharded) == _rows(whole) and len(whole.series) in (2, SERIES)


def test_a_source_that_cannot_count_first_is_not_sent_past_the_hint(serve) -> None:
    """A source without its own check (an in-memory one) answers in full to the route, which
    refuses before encoding: the querier still gets the samples error, not the data."""
    from .conftest import MemoryQueryable, sample_data

    srv = serve(internal_app(MemoryQueryable(sample_data(n_series=10, n_samples=100))))
    with RemoteQueryable(srv.url) as remote:
        q = remote.querier("t1", 0, 2**62)
        with pytest.raises(SelectLimitError) as err:
            q.select([Matcher(MatchType.REGEX, "__name__", "metric_.")],
                     SelectHints(max_samples=500))
        assert err.value.what == "samples" and (err.value.series, err.value.samples) == (10, 1000)
        assert sum(len(s) for s in q.select([], SelectHints(max_samples=1000))) == 1000
